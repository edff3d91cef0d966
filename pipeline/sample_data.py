"""Built-in sample data: scikit-learn's digits (1,797 real 8x8 scans) as a class-folder tree."""

import os
from typing import Tuple

import numpy as np
import tensorflow as tf


def digit_images(scale: int = 1) -> Tuple[np.ndarray, np.ndarray]:
  """(uint8 [n, 8*scale, 8*scale, 1] images, int digits); scale repeats pixels."""
  from sklearn.datasets import load_digits  # noqa: PLC0415  (an image dataset: only when exported)

  digits = load_digits()
  images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)  # 0..16 -> 0..255
  images = images.repeat(scale, axis=1).repeat(scale, axis=2)
  return images[..., np.newaxis], digits.target


def export_digits(dest: str, jpeg_every: int = 5) -> str:
  """Writes every digit to dest/<digit>/digit_<index>.png, every `jpeg_every`-th as .jpg.

  Idempotent: a complete export (marked by `<dest>.complete` beside it) is reused; a partial one
  is redone. Returns dest.
  """
  done_marker = dest.rstrip("/") + ".complete"
  if tf.io.gfile.exists(done_marker):
    return dest
  tmp = dest.rstrip("/") + ".partial"
  if tf.io.gfile.exists(tmp):
    tf.io.gfile.rmtree(tmp)
  images, targets = digit_images()
  for i, (pixels, digit) in enumerate(zip(images, targets)):
    as_jpeg = jpeg_every and i % jpeg_every == 0
    data = tf.io.encode_jpeg(pixels, quality=95) if as_jpeg else tf.io.encode_png(pixels)
    folder = os.path.join(tmp, str(digit))
    tf.io.gfile.makedirs(folder)
    with tf.io.gfile.GFile(
      os.path.join(folder, f"digit_{i:04d}.{'jpg' if as_jpeg else 'png'}"), "wb"
    ) as f:
      f.write(data.numpy())
  if tf.io.gfile.exists(dest):
    tf.io.gfile.rmtree(dest)
  tf.io.gfile.rename(tmp, dest)
  with tf.io.gfile.GFile(done_marker, "w") as f:
    f.write(f"{len(images)}\n")
  return dest
