"""TFLiteExport: a blessed model in the formats asked for (int8 and float16 TFLite, ONNX), each
file held to the same parity gate."""

from typing import Optional, Sequence

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components.tflite_export import executor, parity


class TFLiteModel(types.Artifact):
  """A folder `tflite/` of TFLite models with labels.txt, input.json, parity.json, README.md.

  Custom properties: `passed` (1 when the parity gate passed, so the folder may be pushed),
  `reason` (why not).
  """

  # KFP v2 wants "<namespace>.<Title>", and TFX's Kubeflow V2 container imports the class by
  # that name: components/__init__.py resolves components.TFLiteModel.
  TYPE_NAME = "components.TFLiteModel"


class TFLiteExportSpec(types.ComponentSpec):
  PARAMETERS = {
    "formats": ExecutionParameter(type=str),  # comma-separated: tflite, onnx
    "gate_split": ExecutionParameter(type=str),
    "calibration_split": ExecutionParameter(type=str),
    "calibration_images": ExecutionParameter(type=int),
    "max_gate_images": ExecutionParameter(type=int),
    "min_agreement": ExecutionParameter(type=float),
    "max_accuracy_drop": ExecutionParameter(type=float),
  }
  INPUTS = {
    "model": ChannelParameter(type=standard_artifacts.Model),
    "examples": ChannelParameter(type=standard_artifacts.Examples),
    "model_blessing": ChannelParameter(type=standard_artifacts.ModelBlessing, optional=True),
  }
  OUTPUTS = {"tflite_model": ChannelParameter(type=TFLiteModel)}


class TFLiteExport(base_component.BaseComponent):
  """Converts the Trainer's Keras model (the SavedModel's assets.extra/model.keras) to each of
  `formats`, all taking uint8 pixels (decoded and resized as the SavedModel's input.json says)
  and returning float32 class probabilities: "tflite", `model_int8.tflite` (full-integer: int8
  weights and activations, calibrated on `calibration_images` images of `calibration_split`)
  and `model_float16.tflite` (float16 weights), batch 1; "onnx", `model.onnx` (float32, opset
  17, any batch). One parity gate for every file: it runs beside the SavedModel's
  serving_default on the gate split's images (at most `max_gate_images`); its top-1 must agree
  with the SavedModel's on at least `min_agreement` of them and its accuracy may be at most
  `max_accuracy_drop` below the SavedModel's. The output's `passed_formats` says which folders
  the pusher may push; a model the Evaluator did not bless (`model_blessing`) is not converted.
  """

  SPEC_CLASS = TFLiteExportSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

  def __init__(
    self,
    model: types.BaseChannel,
    examples: types.BaseChannel,
    model_blessing: Optional[types.BaseChannel] = None,
    formats: Sequence[str] = ("tflite",),
    gate_split: str = "eval",
    calibration_split: str = "train",
    calibration_images: int = 200,
    max_gate_images: int = 5000,
    min_agreement: float = parity.MIN_AGREEMENT,
    max_accuracy_drop: float = parity.MAX_ACCURACY_DROP,
  ):
    super().__init__(
      spec=TFLiteExportSpec(
        model=model,
        examples=examples,
        model_blessing=model_blessing,
        formats=",".join(formats),
        gate_split=gate_split,
        calibration_split=calibration_split,
        calibration_images=calibration_images,
        max_gate_images=max_gate_images,
        min_agreement=min_agreement,
        max_accuracy_drop=max_accuracy_drop,
        tflite_model=types.Channel(type=TFLiteModel),
      )
    )
