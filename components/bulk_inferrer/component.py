"""BulkInferrer: TFX's BulkInferrer, run only on a model that was pushed."""

from typing import Optional

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.proto import bulk_inferrer_pb2
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs as specs
from tfx.types.component_spec import ChannelParameter

from components.bulk_inferrer import executor


class BulkInferrerSpec(specs.BulkInferrerSpec):
  """TFX's spec with the push to wait for instead of a blessing."""

  INPUTS = {
    **{k: v for k, v in specs.BulkInferrerSpec.INPUTS.items() if k != specs.MODEL_BLESSING_KEY},
    executor.PUSHED_MODEL_KEY: ChannelParameter(type=standard_artifacts.PushedModel),
  }


class BulkInferrer(base_beam_component.BaseBeamComponent):
  """Scores `examples` with `model` on the model spec's signature (PredictionLogs), when
  `pushed_model` (ServingPusher's output) says this model is the one pushed: a model that the
  Evaluator blessed but the serving check refused is never served, so never scored."""

  SPEC_CLASS = BulkInferrerSpec
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

  def __init__(
    self,
    examples: types.BaseChannel,
    model: types.BaseChannel,
    pushed_model: types.BaseChannel,
    data_spec: Optional[bulk_inferrer_pb2.DataSpec] = None,
    model_spec: Optional[bulk_inferrer_pb2.ModelSpec] = None,
  ):
    super().__init__(
      spec=BulkInferrerSpec(
        examples=examples,
        model=model,
        pushed_model=pushed_model,
        data_spec=data_spec or bulk_inferrer_pb2.DataSpec(),
        model_spec=model_spec or bulk_inferrer_pb2.ModelSpec(),
        inference_result=types.Channel(type=standard_artifacts.InferenceResult),
      )
    )
