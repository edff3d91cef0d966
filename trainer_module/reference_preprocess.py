"""The input contract's resize rule written out in NumPy: a reference for reimplementing it.

`preprocess(path_or_bytes, contract)` gives the uint8 [height, width, channels] pixels that the
model's signature (preprocessing.decode_images, what Transform trained on) computes from the
same file, bit for bit (tested on PNG, JPEG and WebP, grayscale and RGB, odd sizes, every mode).

Only the decoding is TensorFlow's (tf.io.decode_image: 8 bits per channel, grayscale repeated
to RGB, alpha dropped, an animation's first frame). Bit-exact decoding across libraries is out
of scope: lossless formats (PNG, GIF, BMP) decode to the same values in any correct decoder,
but a decoder's own colour-to-grey conversion (a colour PNG for a grayscale model) and JPEG
decoding (IDCT, chroma upsampling) may differ by a level or two; a device uses its own decoder
and accepts that difference. Every
step after decoding is plain float32 arithmetic, in the order TensorFlow's kernels do it, so a
C, Java or Swift port that follows this file (float32, the same operation order, no fused
multiply-add) gets the same bytes.
"""

from typing import Any, Dict, Union

import numpy as np

F32 = np.float32


def decode(data: bytes, channels: int) -> np.ndarray:
  """Encoded image -> uint8 [H, W, channels] (TensorFlow's decoder)."""
  import tensorflow as tf  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)

  def tf_decode(to_channels: int) -> np.ndarray:
    return tf.io.decode_image(
      data, channels=to_channels, dtype=tf.uint8, expand_animations=False
    ).numpy()

  if channels == 1 and data[8:12] == b"WEBP":
    # TF's WebP decoder gives RGB only: greyed as preprocessing._decode does, in float32,
    # (r * 0.2989 + g * 0.5870) + b * 0.1140, rounded half to even.
    rgb = tf_decode(3).astype(F32)
    weights = np.array([0.2989, 0.5870, 0.1140], F32)
    grey = (rgb[..., 0] * weights[0] + rgb[..., 1] * weights[1]) + rgb[..., 2] * weights[2]
    return np.round(grey)[..., np.newaxis].astype(np.uint8)  # tf.image.rgb_to_grayscale's order
  return tf_decode(channels)


def _axis(in_size: int, out_size: int):
  """Per output index: source indices lower, upper and weight of upper (float32), as TF's
  ResizeBilinear with half_pixel_centers=True computes them."""
  scale = F32(in_size) / F32(out_size)  # float32 division
  centre = (np.arange(out_size, dtype=F32) + F32(0.5)) * scale - F32(0.5)  # float32
  floor = np.floor(centre)
  lower = np.maximum(floor, 0).astype(np.int64)
  upper = np.minimum(np.ceil(centre).astype(np.int64), in_size - 1)
  return lower, upper, (centre - floor).astype(F32)


def bilinear(image: np.ndarray, out_height: int, out_width: int) -> np.ndarray:
  """tf.image.resize(image, [out_height, out_width]) (bilinear, antialias=False, half-pixel
  centres) of a float32 [H, W, C] image, in float32 arithmetic in TF's order."""
  image = np.asarray(image, F32)
  top, bottom, dy = _axis(image.shape[0], out_height)
  left, right, dx = _axis(image.shape[1], out_width)
  dx, dy = dx[np.newaxis, :, np.newaxis], dy[:, np.newaxis, np.newaxis]
  top_left, top_right = image[top][:, left], image[top][:, right]
  bottom_left, bottom_right = image[bottom][:, left], image[bottom][:, right]
  upper = top_left + (top_right - top_left) * dx  # each operation rounded to float32
  lower = bottom_left + (bottom_right - bottom_left) * dx
  return upper + (lower - upper) * dy


def crop_box(height: int, width: int):
  """(top, left, side): the centred square of the shorter side (integer division, down)."""
  side = min(height, width)
  return (height - side) // 2, (width - side) // 2, side


def pad_box(height: int, width: int, target_height: int, target_width: int):
  """(new_height, new_width, top, left) of tf.image.resize_with_pad, all in float32: the
  offsets come from the unrounded scaled size, not from new_height/new_width."""
  h, w = F32(height), F32(width)
  ratio = max(w / F32(target_width), h / F32(target_height))
  scaled_h, scaled_w = h / ratio, w / ratio
  top = max(0, int(np.floor((F32(target_height) - scaled_h) / F32(2))))
  left = max(0, int(np.floor((F32(target_width) - scaled_w) / F32(2))))
  return int(np.floor(scaled_h)), int(np.floor(scaled_w)), top, left


def resize(image: np.ndarray, height: int, width: int, mode: str) -> np.ndarray:
  """float32 [H, W, C] -> float32 [height, width, C], as preprocessing.resize does."""
  image = np.asarray(image, F32)
  if mode == "squash":
    return bilinear(image, height, width)
  if mode == "crop":
    top, left, side = crop_box(*image.shape[:2])
    return bilinear(image[top : top + side, left : left + side], height, width)
  if mode == "pad":
    new_height, new_width, top, left = pad_box(*image.shape[:2], height, width)
    if new_height < 1 or new_width < 1:  # TF refuses too ("output dimensions must be positive")
      raise ValueError(f"pad: a {image.shape[0]}x{image.shape[1]} image scales to nothing")
    out = np.zeros((height, width, image.shape[2]), F32)
    out[top : top + new_height, left : left + new_width] = bilinear(image, new_height, new_width)
    return out
  raise ValueError(f"resize mode must be squash, crop or pad, got {mode!r}")


def to_uint8(values: np.ndarray) -> np.ndarray:
  """Rounded half to even (tf.round, np.round), clipped to 0-255, as uint8."""
  return np.clip(np.round(values), 0, 255).astype(np.uint8)


def preprocess(image: Union[str, bytes], contract: Dict[str, Any]) -> np.ndarray:
  """An image file's path or bytes -> uint8 [height, width, channels], as input.json says."""
  if isinstance(image, str):
    with open(image, "rb") as f:
      image = f.read()
  pixels = decode(image, int(contract["channels"]))
  resized = resize(pixels.astype(F32), contract["height"], contract["width"], contract["resize"])
  return to_uint8(resized)
