"""Per-class figures of an evaluation, with what their counts can and cannot support.

TFMA computes per-class precision, recall and F1 on top-1 predictions (the gates use them);
this module adds, from the confusion matrix of the same run, each class's number of images
and predictions and a 95 % Wilson score interval for its precision and recall, names the
classes whose figures rest on too few images to mean much, and the class pairs most confused.
"""

import math
from typing import Any, Dict, List, Optional, Tuple

from reporting import escape

Z95 = 1.959964  # two-sided 95 % normal quantile
FEW_IMAGES = 30  # a gated class with fewer gate-split images gets a warning
CONFUSED_PAIRS = 5  # the most-confused class pairs the model card and per_class.md list
MAX_CLASS_WARNINGS = 10  # more classes with few images than this: one line naming them all


def wilson_interval(successes: int, trials: int, z: float = Z95) -> Optional[Tuple[float, float]]:
  """The Wilson score interval of a binomial proportion; None without trials."""
  if trials <= 0:
    return None
  p = successes / trials
  denominator = 1 + z * z / trials
  centre = (p + z * z / (2 * trials)) / denominator
  half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
  return max(0.0, centre - half), min(1.0, centre + half)


def _rounded(interval: Optional[Tuple[float, float]]) -> Optional[List[float]]:
  return [round(interval[0], 4), round(interval[1], 4)] if interval else None


def per_class(
  tfma_values: Dict[str, Dict[str, Optional[float]]], matrix: Dict[str, Any]
) -> Dict[str, Dict[str, Any]]:
  """class -> images, predicted, precision, recall, F1 (TFMA's, top-1) and their intervals.

  `matrix` is counts[actual][predicted] in class id order. A class that is never predicted has
  no precision in TFMA (0/0); it is reported as 0, flagged `never_predicted`.
  """
  names, counts = matrix["classes"], matrix["counts"]
  result = {}
  for i, name in enumerate(names):
    images = sum(counts[i])
    predicted = sum(row[i] for row in counts)
    correct = counts[i][i]
    values = tfma_values.get(name, {})
    precision = values.get("precision")
    result[name] = {
      "images": images,
      "predicted": predicted,
      "precision": 0.0 if predicted == 0 else precision,
      "precision_95ci": _rounded(wilson_interval(correct, predicted)),
      "recall": values.get("recall"),
      "recall_95ci": _rounded(wilson_interval(correct, images)),
      "f1_score": values.get("f1_score"),
      "never_predicted": predicted == 0,
    }
  return result


def warnings(classes: Dict[str, Dict[str, Any]], gated: bool, split: str) -> List[str]:
  """One line per gated class whose figures rest on fewer than FEW_IMAGES images; past
  MAX_CLASS_WARNINGS such classes, one line naming them all. Plain text, each warning one line
  whatever the class names hold (the report escapes them for Markdown)."""
  if not gated:
    return []
  few = {name: values for name, values in classes.items() if values["images"] < FEW_IMAGES}
  if len(few) > MAX_CLASS_WARNINGS:
    # Names quoted (repr: a comma, a quote or a line break inside one stays visible as such).
    named = ", ".join(f"{str(name)!r} ({values['images']})" for name, values in few.items())
    return [
      f"{len(few)} classes have fewer than {FEW_IMAGES} {split} images each, too few for "
      f"their recall and precision to mean much: {named}"
    ]
  lines = []
  for name, values in few.items():
    low, high = values["recall_95ci"] or (0.0, 1.0)
    lines.append(
      f"class {escape.one_line(name)} has only {values['images']} {split} images: its recall "
      f"{values['recall']} could be anywhere in {low:.2f}-{high:.2f} (95 %)"
    )
  return lines


def confused_pairs(matrix: Dict[str, Any], count: int = CONFUSED_PAIRS) -> List[Dict[str, Any]]:
  """The `count` (true, predicted) pairs of different classes with the most images, most first
  (then the larger share of the true class, then class order), each with its images and their
  share of the true class's: counts[actual][predicted] in class id order."""
  names, counts = matrix["classes"], matrix["counts"]
  pairs = []
  for i, row in enumerate(counts):
    total = sum(row)
    for j, images in enumerate(row):
      if i != j and images:
        pairs.append((-images, -images / total, i, j))
  return [
    {
      "true": names[i],
      "predicted": names[j],
      "images": -minus_images,
      "share_of_true": round(-minus_share, 4),
    }
    for minus_images, minus_share, i, j in sorted(pairs)[:count]
  ]


def normalized(matrix: Dict[str, Any]) -> List[List[float]]:
  """Each row of counts[actual][predicted] as shares of its true class (0 for a class with no
  images)."""
  return [[c / sum(row) if sum(row) else 0.0 for c in row] for row in matrix["counts"]]
