"""TFX's Evaluator, comparing with the baseline only when both models have the same classes."""

from components.evaluator.component import Evaluator

__all__ = ["Evaluator"]
