"""Scheduled runs in tests: a new span of real digit scans each day, and what to check a run's
drift figures against."""

import collections
import os
from typing import Dict

from tests import images, records

CLASSES = (0, 1, 2, 3)
PER_CLASS = 25
# Day 3: class 3 is gone and class 0 triples. Each day's scans are new ones.
DAYS = {
  1: {d: (0, PER_CLASS) for d in CLASSES},
  2: {d: (PER_CLASS, PER_CLASS) for d in CLASSES},
  3: {0: (2 * PER_CLASS, 3 * PER_CLASS), 1: (50, 25), 2: (50, 25)},
  4: {0: (5 * PER_CLASS, PER_CLASS), 1: (75, 25), 2: (75, 25), 3: (50, 25)},
}
# The flags of every scheduled run: small images, accuracy and its change against the served
# model gate (the per-class gates are other tests' subject).
FLAGS = (
  "--image-size",
  "16",
  "--channels",
  "1",
  "--epochs",
  "6",
  "--batch-size",
  "16",
  "--accuracy-threshold",
  "0.5",
  "--min-class-recall",
  "0",
  "--min-class-precision",
  "0",
)


def write_day(root: str, day: int) -> str:
  """`root/day-<day>/<digit>/*.png` as DAYS says; returns that folder."""
  folder = os.path.join(root, f"day-{day}")
  for digit, (skip, count) in DAYS[day].items():
    images.write_tree(folder, images.digit_files({digit: count}, skip=skip))
  return folder


def label_shares(examples_path: str, split: str = "train") -> Dict[str, float]:
  """Each class's share of a split, counted from the TFRecords on disk."""
  counts = collections.Counter(
    records.feature(e, "label").decode() for e in records.split_examples(examples_path, split)
  )
  total = sum(counts.values())
  return {label: n / total for label, n in counts.items()}


def l_infinity(a: Dict[str, float], b: Dict[str, float]) -> float:
  return max(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in set(a) | set(b))
