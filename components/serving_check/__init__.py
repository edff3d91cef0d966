"""In-process serving check of the candidate model before the push (InfraValidator's role)."""

from components.serving_check.component import ServingCheck

__all__ = ["ServingCheck"]
