"""The NumPy reference preprocess gives the signature's pixels bit for bit (real digit scans, odd
sizes, PNG and JPEG, grayscale and RGB, every resize mode), and input.json states its rule."""

import io
import json

import numpy as np
import pytest
import tensorflow as tf

from tests import images
from trainer_module import contract, preprocessing, reference_preprocess

SIZES = [(7, 13), (13, 7), (31, 17), (17, 31), (64, 40), (40, 64), (1, 9), (9, 1), (1, 1)]
MODES = ["squash", "crop", "pad"]


def scan(height: int, width: int, channels: int, index: int) -> np.ndarray:
  """A height x width window of real digit scans (64x64 each), one scan per channel."""
  scans = images.digit_pixels(index + channels, scale=8)[index:]
  top, left = (64 - height) // 2, (64 - width) // 2
  return np.concatenate(
    [pixels[top : top + height, left : left + width] for pixels, _ in scans[:channels]], axis=-1
  )


def signature_pixels(data: bytes, size: int, channels: int, mode: str) -> np.ndarray:
  return preprocessing.decode_images(tf.constant([data]), size, channels, mode).numpy()[0]


def spec(size: int, channels: int, mode: str):
  return contract.input_contract([size, size, channels], mode, "cnn", [0.0] * channels, [1.0])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fmt", ["png", "jpeg"])
@pytest.mark.parametrize("file_channels, channels", [(1, 1), (3, 3), (1, 3), (3, 1)])
def test_reference_gives_the_signatures_pixels_bit_for_bit(mode, fmt, file_channels, channels):
  compared = 0
  for i, (height, width) in enumerate(SIZES):
    data = images.encode(scan(height, width, file_channels, i), fmt)
    for size in (16, 7, 32):
      if mode == "pad" and min(height, width) * size < max(height, width):
        with pytest.raises(ValueError, match="scales to nothing"):  # TF refuses it too
          reference_preprocess.preprocess(data, spec(size, channels, mode))
        with pytest.raises(tf.errors.InvalidArgumentError):
          signature_pixels(data, size, channels, mode)
        continue
      got = reference_preprocess.preprocess(data, spec(size, channels, mode))
      expected = signature_pixels(data, size, channels, mode)
      assert got.dtype == np.uint8 and got.shape == (size, size, channels)
      np.testing.assert_array_equal(got, expected, err_msg=f"{height}x{width} -> {size}")
      compared += 1
  assert compared >= 20


@pytest.mark.parametrize("mode", MODES)
def test_a_webp_greyed_for_a_grayscale_model_gives_the_signatures_pixels(mode):
  """TF decodes WebP to RGB only: the grey conversion is arithmetic too (lossless WebP of RGB
  digit scans, written by Pillow)."""
  pil = pytest.importorskip("PIL.Image")
  for i, (height, width) in enumerate(SIZES[:6]):
    buffer = io.BytesIO()
    pil.fromarray(scan(height, width, 3, i)).save(buffer, "WEBP", lossless=True)
    data = buffer.getvalue()
    np.testing.assert_array_equal(
      reference_preprocess.preprocess(data, spec(16, 1, mode)), signature_pixels(data, 16, 1, mode)
    )


def test_float_values_before_rounding_are_tfs_exactly():
  """Not only after rounding: the float32 resize equals tf.image.resize / resize_with_pad on
  every value, large and small images, up and down (random pixels: every fraction occurs)."""
  rng = np.random.default_rng(0)
  for height, width in [(7, 13), (1, 9), (31, 17), (333, 517), (480, 640)]:
    image = rng.integers(0, 256, (height, width, 3)).astype(np.float32)
    for size in (16, 224):
      for mode in MODES:
        if mode == "pad" and min(height, width) * size < max(height, width):
          continue
        expected = preprocessing.resize(tf.constant(image), size, mode).numpy()
        np.testing.assert_array_equal(
          reference_preprocess.resize(image, size, size, mode), expected
        )


def test_a_path_works_like_bytes(tmp_path):
  data = images.encode(scan(31, 17, 3, 0), "png")
  path = tmp_path / "scan.png"
  path.write_bytes(data)
  np.testing.assert_array_equal(
    reference_preprocess.preprocess(str(path), spec(16, 3, "pad")),
    signature_pixels(data, 16, 3, "pad"),
  )


def test_pad_offsets_come_from_the_unrounded_size():
  # 13 x 7 into 16: scaled 16 x 8.615, so new width 8 and left = floor(3.69) = 3, not (16-8)//2.
  assert reference_preprocess.pad_box(13, 7, 16, 16) == (16, 8, 0, 3)
  assert reference_preprocess.crop_box(7, 13) == (0, 3, 7)


@pytest.mark.parametrize("mode", MODES)
def test_input_json_states_the_rule_of_its_mode(mode):
  written = json.loads(json.dumps(spec(16, 3, mode)))
  rule = written["resize_rule"]
  assert rule["mode"] == written["resize"] == mode
  assert "half_pixel_centers=True" in rule["bilinear"] and "antialias=False" in rule["bilinear"]
  assert "halves to even" in rule["rounding"] and "0-255" in rule["rounding"]
  assert "reference_preprocess.py" in rule["reference"]
  text = " ".join(rule["steps"])
  expected = {
    "squash": ["tf.image.resize"],
    "crop": ["(H - side) // 2", "(W - side) // 2", "crop_to_bounding_box"],
    "pad": ["floor(scaled_h)", "floor((width - scaled_w) / 2)", "unrounded", "pad_to_bounding_box"],
  }[mode]
  for phrase in expected:
    assert phrase in text, phrase
  assert "webp_to_grayscale" not in written and "0.2989" in spec(16, 1, mode)["webp_to_grayscale"]
  assert written["resizing"]  # the words are kept for readers of older contracts
