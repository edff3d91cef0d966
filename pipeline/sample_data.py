"""Built-in sample data: scikit-learn's digits (1,797 real 8x8 scans) as a class-folder tree."""

import os
import shutil
from typing import Optional

import numpy as np
import tensorflow as tf

_DONE = ".complete"


def export_digits(dest: str, limit: Optional[int] = None, jpeg_every: int = 5,
                  scale: int = 1) -> str:
  """Writes digits to dest/<digit>/digit_<index>.png (every `jpeg_every`-th as .jpg).

  Idempotent: an existing complete export is reused. `scale` enlarges the images by pixel
  repetition; `limit` keeps only the first N images. Returns dest.
  """
  if tf.io.gfile.exists(os.path.join(dest, _DONE)):
    return dest
  from sklearn.datasets import load_digits  # pylint: disable=import-outside-toplevel
  digits = load_digits()
  images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)  # 0..16 -> 0..255
  if scale > 1:
    images = images.repeat(scale, axis=1).repeat(scale, axis=2)
  tmp = dest.rstrip("/") + ".partial"
  if tf.io.gfile.exists(tmp):
    tf.io.gfile.rmtree(tmp)
  count = len(images) if limit is None else min(limit, len(images))
  for i in range(count):
    pixels = images[i][:, :, None]
    as_jpeg = jpeg_every and i % jpeg_every == 0
    data = tf.io.encode_jpeg(pixels, quality=95) if as_jpeg else tf.io.encode_png(pixels)
    folder = os.path.join(tmp, str(digits.target[i]))
    tf.io.gfile.makedirs(folder)
    name = f"digit_{i:04d}.{'jpg' if as_jpeg else 'png'}"
    with tf.io.gfile.GFile(os.path.join(folder, name), "wb") as f:
      f.write(data.numpy())
  with tf.io.gfile.GFile(os.path.join(tmp, _DONE), "w") as f:
    f.write(f"{count}\n")
  if tf.io.gfile.exists(dest):
    tf.io.gfile.rmtree(dest)
  tf.io.gfile.rename(tmp, dest)
  return dest
