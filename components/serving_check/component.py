"""ServingCheck: calls the candidate SavedModel as TF Serving would, and blesses it or not."""

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components.serving_check import executor


class ServingCheckSpec(types.ComponentSpec):
  PARAMETERS = {
    "split": ExecutionParameter(type=str),
    "num_requests": ExecutionParameter(type=int),
    "model_name": ExecutionParameter(type=str),
    "max_batch_size": ExecutionParameter(type=int),
  }
  INPUTS = {
    "model": ChannelParameter(type=standard_artifacts.Model),
    "examples": ChannelParameter(type=standard_artifacts.Examples),
  }
  OUTPUTS = {"blessing": ChannelParameter(type=standard_artifacts.InfraBlessing)}


class ServingCheck(base_component.BaseComponent):
  """Like TFX's InfraValidator with `make_warmup`, but in process (no model server here).

  Sends `num_requests` real encoded images of `split` to the model's serving_default, once as
  gRPC PredictRequests (one per image, then batches of at most `max_batch_size`, TF Serving's
  batching limit) and once as a REST `{"b64": ...}` body, and checks the output names,
  dtypes, shapes and values. A passing model is copied with the requests as
  `assets.extra/tf_serving_warmup_requests` into the blessing, which the Pusher pushes from;
  a failing one gets blessed=0 and the reason in `serving_check.json`, and nothing is pushed.
  """

  SPEC_CLASS = ServingCheckSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

  def __init__(
    self,
    model: types.BaseChannel,
    examples: types.BaseChannel,
    split: str = "eval",
    num_requests: int = 8,
    model_name: str = "model",
    max_batch_size: int = 64,
  ):
    super().__init__(
      spec=ServingCheckSpec(
        model=model,
        examples=examples,
        split=split,
        num_requests=num_requests,
        model_name=model_name,
        max_batch_size=max_batch_size,
        blessing=types.Channel(type=standard_artifacts.InfraBlessing),
      )
    )
