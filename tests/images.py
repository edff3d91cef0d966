"""Real images for tests: scikit-learn's digits encoded as PNG and JPEG, plus broken files."""

import os
from typing import Dict, List, Tuple

import numpy as np
import tensorflow as tf

from pipeline.sample_data import digit_images


def digit_pixels(count: int, scale: int = 1) -> List[Tuple[np.ndarray, int]]:
  """(uint8 HxWx1 array, digit) for the first `count` digits."""
  images, targets = digit_images(scale)
  return [(image, int(target)) for image, target in zip(images[:count], targets[:count])]


def encode(pixels: np.ndarray, fmt: str) -> bytes:
  if fmt == "png":
    return tf.io.encode_png(pixels).numpy()
  if fmt == "jpeg":
    return tf.io.encode_jpeg(pixels, quality=95).numpy()
  raise ValueError(fmt)


def write_tree(root: str, files: Dict[str, bytes]) -> None:
  for relpath, data in files.items():
    path = os.path.join(root, relpath)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
      f.write(data)


def count_files(root: str) -> int:
  """Every regular file below root, the way a user would count them."""
  return sum(len(files) for _, _, files in os.walk(root))
