"""Keras model -> TFLite (full-integer int8 or float16), and a runner for .tflite files.

Both models take uint8 pixels [1, height, width, channels], already decoded and resized, and
return float32 class probabilities [1, classes]: the model's own first layers normalize, as in
the served SavedModel. The Keras model is exported with Keras' ExportArchive first (a Keras 3
model converted from a concrete function fails int8 calibration on its variables).
"""

import tempfile
import warnings
from typing import Dict, Iterable, Optional, Sequence

import keras
import numpy as np
import tensorflow as tf

from schemas.features import TFLITE_INPUT, TFLITE_OUTPUT, TFLITE_SIGNATURE

SIGNATURE, INPUT, OUTPUT = TFLITE_SIGNATURE, TFLITE_INPUT, TFLITE_OUTPUT
INT8, FLOAT16 = "int8", "float16"
FILES = {INT8: "model_int8.tflite", FLOAT16: "model_float16.tflite"}


def export_archive(model: keras.Model, directory: str) -> None:
  """A SavedModel with one signature, `serve`: uint8 pixels [1, h, w, c] -> probabilities."""
  shape = list(model.inputs[0].shape[1:])
  input_name = model.inputs[0].name

  def serve(pixels):
    probabilities = model({input_name: tf.cast(pixels, tf.float32)}, training=False)
    return {OUTPUT: tf.cast(probabilities, tf.float32)}

  archive = keras.export.ExportArchive()
  archive.track(model)
  archive.add_endpoint(
    name=SIGNATURE, fn=serve, input_signature=[tf.TensorSpec([1, *shape], tf.uint8, name=INPUT)]
  )
  archive.write_out(directory, verbose=False)


def convert(
  model: keras.Model, kind: str, calibration: Optional[Iterable[np.ndarray]] = None
) -> bytes:
  """The .tflite bytes of `model`: INT8 (int8 weights and activations, calibrated on
  `calibration`, uint8 [h, w, c] images of the training split) or FLOAT16 (float16 weights)."""
  return convert_all(model, [kind], calibration)[kind]


def convert_all(
  model: keras.Model, kinds: Sequence[str], calibration: Optional[Iterable[np.ndarray]] = None
) -> Dict[str, bytes]:
  """convert() for each of `kinds`, from one exported archive."""
  with tempfile.TemporaryDirectory() as directory:
    export_archive(model, directory)
    return {kind: _convert_archive(directory, kind, calibration) for kind in kinds}


def _convert_archive(
  directory: str, kind: str, calibration: Optional[Iterable[np.ndarray]] = None
) -> bytes:
  converter = tf.lite.TFLiteConverter.from_saved_model(directory, signature_keys=[SIGNATURE])
  converter.optimizations = [tf.lite.Optimize.DEFAULT]
  if kind == INT8:
    images = list(calibration) if calibration is not None else []
    if not images:
      raise ValueError("int8 conversion needs calibration images")
    converter.representative_dataset = lambda: ({INPUT: image[np.newaxis]} for image in images)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8
    # Output stays float32: probabilities as they are, a dequantize op at the very end.
  elif kind == FLOAT16:
    converter.target_spec.supported_types = [tf.float16]
  else:
    raise ValueError(f"unknown TFLite kind {kind!r}; one of {INT8}, {FLOAT16}")
  with warnings.catch_warnings():  # calibration runs tf.lite.Interpreter (deprecated)
    warnings.simplefilter("ignore")
    return converter.convert()
