"""What to label next (--infer-dir): <output-dir>/inference/to_label.csv, every scored file, the
least confident first.

Confidence is the margin between the two most probable classes (uncertainty sampling's margin
rule: a small margin is a model torn between two classes, the images a labeller's time helps
most); ties go by path. The file is a manifest this pipeline ingests: `path,label` first
(ImageExampleGen reads those two columns and no other), each path absolute (or gs://) so that
the file can be moved anywhere, the label pre-filled with the predicted class for the labeller
to correct; then `margin` and `top_probability`. `--label-budget N` keeps the first N rows.
Text a spreadsheet would run as a formula gets a leading ' (escape.csv_cell), which the
manifest reader takes off again (schemas/csv_cells.py).
"""

import csv
import io
import os
import posixpath
from typing import List, NamedTuple, Optional, Sequence

from reporting import escape

COLUMNS = ("path", "label", "margin", "top_probability")


class Row(NamedTuple):
  path: str  # absolute, or gs://
  label: str  # the predicted class, to be corrected
  margin: float  # top probability minus the second's
  top_probability: float


def margin(probabilities: Sequence[float]) -> float:
  """The most probable class's probability minus the second's (1 - top with one class)."""
  ordered = sorted(probabilities, reverse=True) + [0.0]
  return float(ordered[0] - ordered[1])


def absolute(root: Optional[str], path: str) -> str:
  """A path as the ingestion recorded it (below the --infer-dir folder, or as its manifest wrote
  it: relative to the manifest's folder, or absolute) as a path any manifest can name."""
  if "://" in path or path.startswith("/") or not root:
    return path
  base = posixpath.dirname(root) if root.lower().endswith(".csv") else root
  if "://" in base:
    return posixpath.join(base, path)
  return os.path.abspath(os.path.join(base, path))


def rows(predictions, root: Optional[str], budget: int = 0) -> List[Row]:
  """The scored files (reporting.inference.Prediction) least confident first, the first
  `budget` (0: all)."""
  found = []
  for p in predictions:
    top = max(range(len(p.probabilities)), key=p.probabilities.__getitem__)
    found.append(
      Row(absolute(root, p.path), p.class_names[top], margin(p.probabilities), p.probabilities[top])
    )
  found.sort(key=lambda row: (row.margin, row.path))
  return found[:budget] if budget else found


def csv_text(found: List[Row]) -> str:
  out = io.StringIO()
  writer = csv.writer(out, lineterminator="\n")
  writer.writerow(COLUMNS)
  for row in found:
    writer.writerow(
      escape.csv_row([row.path, row.label]) + [f"{row.margin:.6f}", f"{row.top_probability:.6f}"]
    )
  return out.getvalue()
