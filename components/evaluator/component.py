"""Evaluator: TFX's Evaluator with an executor that checks the baseline's classes first."""

from tfx import v1 as tfx
from tfx.dsl.components.base import executor_spec

from components.evaluator import executor


class Evaluator(tfx.components.Evaluator):
  """Same inputs, outputs and gates as TFX's Evaluator.

  A baseline model (the last blessed one) is compared only when its class names, in id order,
  equal the candidate's; otherwise the candidate is judged on the thresholds alone, as a first
  model is, and `baseline_comparison.json` in the evaluation says which classes were added or
  removed.
  """

  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)
