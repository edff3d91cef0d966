"""The class names a SavedModel was trained on, kept beside it as labels.txt (id order).

Written by the Trainer into the SavedModel's assets.extra/ (TF Serving ignores it there), read
by the Evaluator (is the baseline comparable?) and the Trainer (can it warm-start?) to tell
whether an earlier model has the same classes. The names come from Transform's label vocabulary.
"""

import os
from typing import List, Optional

import tensorflow as tf

from schemas import filenames
from schemas.features import LABEL_VOCAB


def from_transform(tf_transform_output) -> List[str]:
  """Class names in id order, as Transform's label vocabulary has them (a TFTransformOutput)."""
  return [name.decode() for name in tf_transform_output.vocabulary_by_name(LABEL_VOCAB)]


def write_class_names(saved_model_dir: str, class_names: List[str]) -> str:
  path = os.path.join(saved_model_dir, filenames.MODEL_LABELS)
  tf.io.gfile.makedirs(os.path.dirname(path))
  with tf.io.gfile.GFile(path, "w") as f:
    f.write("".join(name + "\n" for name in class_names))
  return path


def read_class_names(saved_model_dir: str) -> Optional[List[str]]:
  """Class names in id order, or None for a model that does not record them."""
  path = os.path.join(saved_model_dir, filenames.MODEL_LABELS)
  if not tf.io.gfile.exists(path):
    return None
  with tf.io.gfile.GFile(path) as f:
    return f.read().splitlines()


def classes_mismatch(candidate: Optional[List[str]], baseline: Optional[List[str]]) -> str:
  """Why two models' class ids cannot be compared, or '' when they mean the same classes."""
  if baseline is None or candidate is None:
    return (
      f"the {'baseline' if baseline is None else 'candidate'} model does not record its classes"
    )
  if candidate == baseline:
    return ""
  added = sorted(set(candidate) - set(baseline))
  removed = sorted(set(baseline) - set(candidate))
  if not added and not removed:
    return "the same classes in another id order"
  return "; ".join(
    part
    for part in (
      f"added {', '.join(added)}" if added else "",
      f"removed {', '.join(removed)}" if removed else "",
    )
    if part
  )
