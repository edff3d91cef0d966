"""The class names a SavedModel was trained on, kept beside it as labels.txt (id order).

Written by the Trainer into the SavedModel's assets.extra/ (TF Serving ignores it there), read
by the Evaluator to tell whether a baseline model has the same classes as the candidate.
"""

import os
from typing import List, Optional

import tensorflow as tf

LABELS_FILE = os.path.join("assets.extra", "labels.txt")


def write_class_names(saved_model_dir: str, class_names: List[str]) -> str:
  path = os.path.join(saved_model_dir, LABELS_FILE)
  tf.io.gfile.makedirs(os.path.dirname(path))
  with tf.io.gfile.GFile(path, "w") as f:
    f.write("".join(name + "\n" for name in class_names))
  return path


def read_class_names(saved_model_dir: str) -> Optional[List[str]]:
  """Class names in id order, or None for a model that does not record them."""
  path = os.path.join(saved_model_dir, LABELS_FILE)
  if not tf.io.gfile.exists(path):
    return None
  with tf.io.gfile.GFile(path) as f:
    return f.read().splitlines()
