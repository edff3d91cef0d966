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


def digit_files(
  per_class: Dict[int, int],
  folder: str = "{digit}",
  fmt: str = "png",
  scale: int = 1,
  skip: int = 0,
) -> Dict[str, bytes]:
  """`per_class[d]` real scans of digit d, as {"<folder>/digit_<index>.<ext>": bytes}.

  `folder` may use {digit}; `skip` leaves out each digit's first scans (to get other images of
  the same digits). The digits set has no two identical scans, so no two files are alike.
  """
  files, seen = {}, {d: 0 for d in per_class}
  for i, (pixels, digit) in enumerate(digit_pixels(1797, scale)):
    if digit not in per_class or seen[digit] >= skip + per_class[digit]:
      continue
    seen[digit] += 1
    if seen[digit] > skip:
      ext = "jpg" if fmt == "jpeg" else fmt
      files[f"{folder.format(digit=digit)}/digit_{i:04d}.{ext}"] = encode(pixels, fmt)
  return files


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
