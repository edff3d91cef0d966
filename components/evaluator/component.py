"""Evaluator: TFX's Evaluator, whose baseline is the model being served."""

from typing import List, Optional

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs as specs
from tfx.types.component_spec import ChannelParameter
from tfx.utils import json_utils

from components.evaluator import executor

SERVED_MODEL_KEY = executor.SERVED_MODEL_KEY


class EvaluatorSpec(specs.EvaluatorSpec):
  """TFX's Evaluator spec; the baseline is a PushedModel (the served version), not a Model."""

  INPUTS = {
    **{k: v for k, v in specs.EvaluatorSpec.INPUTS.items() if k != specs.BASELINE_MODEL_KEY},
    SERVED_MODEL_KEY: ChannelParameter(type=standard_artifacts.PushedModel, optional=True),
  }


class Evaluator(base_beam_component.BaseBeamComponent):
  """TFX's Evaluator (same outputs and gates), comparing the candidate with the model being
  served: `served_model` is ServingPusher's newest push (pipeline/resolvers.py). No baseline
  comparison when nothing is served yet, when the served model is the candidate itself, or when
  its classes differ; `baseline_comparison.json` in the evaluation says which and why.
  """

  SPEC_CLASS = EvaluatorSpec
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

  def __init__(
    self,
    examples: types.BaseChannel,
    model: types.BaseChannel,
    eval_config,
    served_model: Optional[types.BaseChannel] = None,
    example_splits: Optional[List[str]] = None,
  ):
    super().__init__(
      spec=EvaluatorSpec(
        examples=examples,
        model=model,
        served_model=served_model,
        eval_config=eval_config,
        example_splits=json_utils.dumps(example_splits),
        evaluation=types.Channel(type=standard_artifacts.ModelEvaluation),
        blessing=types.Channel(type=standard_artifacts.ModelBlessing),
      )
    )
