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

from schemas import filenames

RESIZING = {
  "squash": "stretched to height x width",
  "crop": "the centred square of the shorter side, scaled to height x width",
  "pad": "scaled to fit height x width keeping the aspect ratio, centred, the rest black (0)",
}
BILINEAR = (
  "tf.image.resize(image, [h, w], method='bilinear', antialias=False) of the float32 decoded "
  "pixels: TF2's ResizeBilinear, half_pixel_centers=True, align_corners=False. Per axis, all in "
  "float32: scale = in_size / out_size; for output index i, x = (i + 0.5) * scale - 0.5, "
  "lo = max(floor(x), 0), hi = min(ceil(x), in_size - 1), d = x - floor(x). Per output pixel, "
  "each operation rounded to float32 in this order, no fused multiply-add: "
  "top = p[y_lo][x_lo] + (p[y_lo][x_hi] - p[y_lo][x_lo]) * dx, "
  "bottom = p[y_hi][x_lo] + (p[y_hi][x_hi] - p[y_hi][x_lo]) * dx, "
  "value = top + (bottom - top) * dy"
)
STEPS = {
  "squash": [
    "bilinear resize of the whole decoded H x W image to height x width (tf.image.resize)",
  ],
  "crop": [
    "side = min(H, W); top = (H - side) // 2; left = (W - side) // 2 (integers, rounded down)",
    "keep rows top .. top + side - 1 and columns left .. left + side - 1 "
    "(tf.image.crop_to_bounding_box)",
    "bilinear resize of that side x side square to height x width (tf.image.resize)",
  ],
  "pad": [
    "tf.image.resize_with_pad(image, height, width), in float32: "
    "ratio = max(W / width, H / height); scaled_h = H / ratio; scaled_w = W / ratio",
    "new_h = floor(scaled_h); new_w = floor(scaled_w) (integers; an image whose new_h or new_w "
    "is 0 is refused)",
    "top = max(0, floor((height - scaled_h) / 2)); left = max(0, floor((width - scaled_w) / 2)): "
    "from the unrounded scaled_h and scaled_w, not from new_h and new_w",
    "bilinear resize of the whole image to new_h x new_w (tf.image.resize)",
    "placed with its first row at `top` and first column at `left` in a height x width image of "
    "zeros (tf.image.pad_to_bounding_box)",
  ],
}
ROUNDING = "tf.round (to the nearest integer, halves to even), then clipped to 0-255, then uint8"
REFERENCE = "trainer_module/reference_preprocess.py: preprocess(path_or_bytes, contract)"


def resize_rule(resize: str) -> Dict[str, Any]:
  """The exact arithmetic of `resize` mode, from decoded pixels to the model's uint8 input."""
  return {
    "mode": resize,
    "input": "the decoded uint8 [H, W, channels] image, as float32",
    "steps": STEPS[resize],
    "bilinear": BILINEAR,
    "rounding": ROUNDING,
    "reference": REFERENCE,
  }


def input_contract(
  shape: List[int],
  resize: str,
  model: str,
  mean: Optional[Sequence[float]] = None,
  std: Optional[Sequence[float]] = None,
  variant: Optional[str] = None,
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
  elif model == "ensemble":  # trainer_module/ensemble.py: members of several architectures
    normalization = {
      "in_model": True,
      "method": "each ensemble member's own first layers, on the same 0-255 pixels",
    }
  elif model == "mobilenet" and variant == "v2":
    normalization = {
      "in_model": True,
      "method": "MobileNetV2's rescaling to [-1, 1]",
      "formula": "pixel / 127.5 - 1",
    }
  elif model == "mobilenet":
    normalization = {
      "in_model": True,
      "method": "MobileNetV3's built-in rescaling to [-1, 1]",
      "formula": "pixel / 127.5 - 1",
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
    "rounded to the nearest integer (resize_rule: the exact arithmetic)",
    "resize_rule": resize_rule(resize),
    **(
      {
        "webp_to_grayscale": "TF decodes WebP to RGB only: grey = round((r * 0.2989 + "
        "g * 0.5870) + b * 0.1140), in float32 in that order, halves to even"
      }
      if channels == 1
      else {}
    ),
    "normalization": normalization,
  }


def write_contract(saved_model_dir: str, contract: Dict[str, Any]) -> str:
  path = os.path.join(saved_model_dir, filenames.MODEL_CONTRACT)
  tf.io.gfile.makedirs(os.path.dirname(path))
  with tf.io.gfile.GFile(path, "w") as f:
    json.dump(contract, f, indent=2)
  return path


def read_contract(saved_model_dir: str) -> Optional[Dict[str, Any]]:
  """The contract, or None for a model that does not record it."""
  path = os.path.join(saved_model_dir, filenames.MODEL_CONTRACT)
  if not tf.io.gfile.exists(path):
    return None
  with tf.io.gfile.GFile(path) as f:
    return json.load(f)


def load_keras_model(saved_model_dir: str):
  """The Keras model kept beside the SavedModel, or None for a model without one."""
  import keras  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)

  path = os.path.join(saved_model_dir, filenames.MODEL_KERAS)
  if not tf.io.gfile.exists(path):
    return None
  if "://" in path:  # e.g. gs://: copied to a local file first
    local = os.path.join(tempfile.mkdtemp(), os.path.basename(path))
    tf.io.gfile.copy(path, local, overwrite=True)
    path = local
  return keras.models.load_model(path)
