"""Custom TFX components, one folder each."""
