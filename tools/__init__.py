"""Tools for developing and testing the pipeline (not installed with it)."""
