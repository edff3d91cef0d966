"""Keras model -> TFLite (full-integer int8 or float16), and a runner for .tflite files.

Both models take uint8 pixels [1, height, width, channels], already decoded and resized, and
return float32 class probabilities [1, classes]: the model's own first layers normalize, as in
the served SavedModel. The Keras model is exported with Keras' ExportArchive first (a Keras 3
model converted from a concrete function fails int8 calibration on its variables).
"""

import os
import tempfile
import warnings
from typing import Iterable, Optional

import keras
import numpy as np
import tensorflow as tf

SIGNATURE = "serve"
INPUT = "pixels"
OUTPUT = "probabilities"
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
  with tempfile.TemporaryDirectory() as directory:
    export_archive(model, directory)
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


def _interpreter_class():
  """LiteRT's interpreter when installed (ai-edge-litert), else TensorFlow's (same API)."""
  try:
    from ai_edge_litert.interpreter import Interpreter  # pylint: disable=import-outside-toplevel

    return Interpreter
  except ImportError:
    return tf.lite.Interpreter


class TFLiteClassifier:
  """A .tflite image classifier: uint8 pixels [h, w, c] -> probabilities [classes]."""

  def __init__(
    self,
    path: Optional[str] = None,
    content: Optional[bytes] = None,
    num_threads: Optional[int] = None,
  ):
    if content is None:
      with tf.io.gfile.GFile(path, "rb") as f:
        content = f.read()
    with warnings.catch_warnings():  # tf.lite.Interpreter's deprecation notice
      warnings.simplefilter("ignore")
      self.interpreter = _interpreter_class()(model_content=content, num_threads=num_threads)
    self.interpreter.allocate_tensors()
    (self.input,) = self.interpreter.get_input_details()
    (self.output,) = self.interpreter.get_output_details()

  @property
  def shape(self):
    """[height, width, channels] of its input."""
    return [int(d) for d in self.input["shape"][1:]]

  def __call__(self, pixels: np.ndarray) -> np.ndarray:
    self.interpreter.set_tensor(
      self.input["index"], np.asarray(pixels, self.input["dtype"])[np.newaxis]
    )
    self.interpreter.invoke()
    return np.array(self.interpreter.get_tensor(self.output["index"])[0], np.float32)

  def predict(self, images: Iterable[np.ndarray]) -> np.ndarray:
    """[batch, classes] probabilities, one image at a time (the model's batch is 1)."""
    return np.stack([self(image) for image in images])

  def describe(self) -> dict:
    """Input and output tensors as input.json records them."""

    def tensor(details, name):
      scale, zero_point = details["quantization"]
      described = {
        "name": name,
        "dtype": np.dtype(details["dtype"]).name,
        "shape": [int(d) for d in details["shape"]],
      }
      if scale:
        described["quantization"] = {"scale": float(scale), "zero_point": int(zero_point)}
      return described

    return {"input": tensor(self.input, INPUT), "output": tensor(self.output, OUTPUT)}

  def tensors(self) -> dict:
    """The interpreter's own input and output tensors (get_input_details and
    get_output_details: `name` such as "serve_pixels:0", which the plain interpreter knows, and
    `index`), each with the signature's name for it (`signature_name`, which only the signature
    runner knows)."""

    def tensor(details, signature_name):
      described = {
        "name": details["name"],
        "index": int(details["index"]),
        "signature_name": signature_name,
        "dtype": np.dtype(details["dtype"]).name,
        "shape": [int(d) for d in details["shape"]],
      }
      scale, zero_point = details["quantization"]
      if scale:
        described["quantization"] = {"scale": float(scale), "zero_point": int(zero_point)}
      return described

    return {"input": tensor(self.input, INPUT), "output": tensor(self.output, OUTPUT)}


def size_of(path: str) -> int:
  return tf.io.gfile.stat(path).length if "://" in path else os.path.getsize(path)
