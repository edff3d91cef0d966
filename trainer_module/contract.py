"""What a client must do to an image before the model sees it, kept beside the SavedModel.

The Trainer writes into the SavedModel's assets.extra/ (TF Serving ignores that folder):
- input.json, the input contract: size, channels, resize mode, decoding, and the normalization
  the model applies itself (so clients feed plain 0-255 pixels);
- model.keras, the trained Keras model: Grad-CAM needs its layers, which a SavedModel does not
  keep (the TFLite export and `python -m pipeline.predict --explain` load it from here).
"""

import json
import os
import tempfile
from typing import Any, Dict, List, Optional, Sequence

import tensorflow as tf

CONTRACT_FILE = os.path.join("assets.extra", "input.json")
KERAS_FILE = os.path.join("assets.extra", "model.keras")
RESIZING = {
  "squash": "stretched to height x width",
  "crop": "the centred square of the shorter side, scaled to height x width",
  "pad": "scaled to fit height x width keeping the aspect ratio, centred, the rest black (0)",
}


def input_contract(
  shape: List[int],
  resize: str,
  model: str,
  mean: Optional[Sequence[float]] = None,
  std: Optional[Sequence[float]] = None,
) -> Dict[str, Any]:
  """The contract of a model trained on Transform's `shape` ([size, size, channels]) images."""
  size, _, channels = shape
  if model == "cnn":
    normalization = {
      "in_model": True,
      "method": "per-channel standardization",
      "formula": "(pixel - mean) / std",
      "mean": list(mean or []),
      "std": list(std or []),
    }
  else:
    normalization = {
      "in_model": True,
      "method": "EfficientNet's built-in rescaling and ImageNet normalization",
    }
  return {
    "height": size,
    "width": size,
    "channels": channels,
    "color": "grayscale" if channels == 1 else "rgb",
    "pixels": "uint8 0-255, [height, width, channels]; feed them as they are",
    "decoding": "8 bits per channel, converted to `channels` as TensorFlow's decode_image "
    "does (grayscale repeated to RGB, alpha dropped); an animation's first frame",
    "resize": resize,
    "resizing": RESIZING[resize] + "; bilinear without antialiasing (tf.image.resize), "
    "rounded to the nearest integer",
    "normalization": normalization,
  }


def write_contract(saved_model_dir: str, contract: Dict[str, Any]) -> str:
  path = os.path.join(saved_model_dir, CONTRACT_FILE)
  tf.io.gfile.makedirs(os.path.dirname(path))
  with tf.io.gfile.GFile(path, "w") as f:
    json.dump(contract, f, indent=2)
  return path


def read_contract(saved_model_dir: str) -> Optional[Dict[str, Any]]:
  """The contract, or None for a model that does not record it."""
  path = os.path.join(saved_model_dir, CONTRACT_FILE)
  if not tf.io.gfile.exists(path):
    return None
  with tf.io.gfile.GFile(path) as f:
    return json.load(f)


def load_keras_model(saved_model_dir: str):
  """The Keras model kept beside the SavedModel, or None for a model without one."""
  import keras  # pylint: disable=import-outside-toplevel

  path = os.path.join(saved_model_dir, KERAS_FILE)
  if not tf.io.gfile.exists(path):
    return None
  if "://" in path:  # e.g. gs://: copied to a local file first
    local = os.path.join(tempfile.mkdtemp(), os.path.basename(path))
    tf.io.gfile.copy(path, local, overwrite=True)
    path = local
  return keras.models.load_model(path)
