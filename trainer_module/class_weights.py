"""Class weights from the training label distribution, counted by a TFT analyzer in Transform."""

from typing import Dict, Optional

import tensorflow as tf
import tensorflow_transform as tft

from schemas.features import LABEL_COUNTS, LABEL_VOCAB
from schemas.settings import CLASS_WEIGHT_MODES

IMBALANCE_RATIO = 1.5  # "auto" weights classes once the largest is this many times the smallest.


def label_counts(tf_transform_output: tft.TFTransformOutput) -> Dict[int, int]:
  """Training examples per class id, from Transform's frequency vocabulary."""
  ids = {name: i for i, name in enumerate(tf_transform_output.vocabulary_by_name(LABEL_VOCAB))}
  counts = {}
  with tf.io.gfile.GFile(tf_transform_output.vocabulary_file_by_name(LABEL_COUNTS), "rb") as f:
    for line in f:
      count, name = line.rstrip(b"\n").split(b" ", 1)
      counts[ids[name]] = int(count)
  return counts


def class_weights(counts: Dict[int, int], mode: str) -> Optional[Dict[int, float]]:
  """Keras class_weight, inversely proportional to class frequency (mean weight 1), or None."""
  if mode not in CLASS_WEIGHT_MODES:
    raise ValueError(
      f"class weights mode must be one of {', '.join(CLASS_WEIGHT_MODES)}, got {mode!r}"
    )
  if mode == "none" or not counts:
    return None
  if mode == "auto" and max(counts.values()) < IMBALANCE_RATIO * min(counts.values()):
    return None
  total = sum(counts.values())
  return {label: total / (len(counts) * count) for label, count in counts.items()}
