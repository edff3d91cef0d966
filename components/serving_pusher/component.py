"""ServingPusher: TFX's Pusher with an executor that writes a complete TF Serving base path."""

from typing import Any, Dict, Optional

from tfx import types
from tfx import v1 as tfx
from tfx.dsl.components.base import base_component, executor_spec
from tfx.proto import pusher_pb2
from tfx.types import standard_component_specs
from tfx.types.component_spec import ChannelParameter
from tfx.utils import json_utils

from components.serving_pusher import executor
from components.serving_pusher.executor import TFLITE_KEY
from components.tflite_export.component import TFLiteModel


class ServingPusherSpec(standard_component_specs.PusherSpec):
  INPUTS = {
    **standard_component_specs.PusherSpec.INPUTS,
    TFLITE_KEY: ChannelParameter(type=TFLiteModel, optional=True),
  }


class ServingPusher(tfx.components.Pusher):
  """Pushes a blessed model to `<base_directory>/<version>/`, atomically on local disks.

  Takes the same inputs as TFX's Pusher; with a ServingCheck blessing as `infra_blessing` it
  pushes the checked copy that carries TF Serving warmup requests. With a TFLiteExport output
  as `tflite_model`, each format whose parity gate passed goes into the version as its folder,
  `tflite/` or `onnx/` (TF Serving ignores them). Beside the versions it writes `models.config`,
  `batching_parameters.txt`, `request.json` (a real image as a REST body) and `README.md` with
  the docker and curl commands. `custom_config` may set `model_name` (default "model") and
  `max_batch_size` (default 64).
  """

  SPEC_CLASS = ServingPusherSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

  def __init__(
    self,
    model: Optional[types.BaseChannel] = None,
    model_blessing: Optional[types.BaseChannel] = None,
    infra_blessing: Optional[types.BaseChannel] = None,
    push_destination: Optional[pusher_pb2.PushDestination] = None,
    custom_config: Optional[Dict[str, Any]] = None,
    tflite_model: Optional[types.BaseChannel] = None,
  ):
    if model is None and infra_blessing is None:
      raise ValueError("ServingPusher needs a model or an infra_blessing that carries one")
    base_component.BaseComponent.__init__(
      self,
      spec=ServingPusherSpec(
        model=model,
        model_blessing=model_blessing,
        infra_blessing=infra_blessing,
        push_destination=push_destination,
        custom_config=json_utils.dumps(custom_config),
        tflite_model=tflite_model,
        pushed_model=types.Channel(type=tfx.types.standard_artifacts.PushedModel),
      ),
    )
