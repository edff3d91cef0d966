"""The run report's files, written from the run summary: under <output dir>/report and beside
a pushed model as serving_model/reports/<version>."""

import os
from typing import Any, Dict, List, Optional

from reporting import card, explanations, plots, predictions

REPORT_DIR = "report"
FILES = (
  "model_card.md",
  "per_class.md",
  "confusion_matrix.png",
  "training_curves.png",
  "calibration.png",
  predictions.FILE,
) + explanations.FILES


def _gfile():
  import tensorflow as tf  # pylint: disable=import-outside-toplevel

  return tf.io.gfile


def write_report(
  summary: Dict[str, Any], report_dir: str, scored: Optional[predictions.Scored] = None
) -> List[str]:
  """Writes the report files that the summary has data for (predictions.csv: `scored`, the
  gated split through the model); returns their paths."""
  _gfile().makedirs(report_dir)
  metrics = summary["metrics"]
  written = []

  def text(name: str, content: str) -> None:
    with _gfile().GFile(os.path.join(report_dir, name), "w") as f:
      f.write(content)
    written.append(os.path.join(report_dir, name))

  text("model_card.md", card.model_card(summary))
  if metrics.get("per_class"):
    text("per_class.md", card.per_class_table(summary))
  if scored is not None:
    text(predictions.FILE, predictions.csv_text(scored))
  figures = (
    ("confusion_matrix.png", plots.plot_confusion_matrix, metrics.get("confusion_matrix")),
    (
      "training_curves.png",
      plots.plot_training_curves,
      (summary.get("training") or {}).get("epoch_log"),
    ),
    ("calibration.png", plots.plot_calibration, (metrics.get("calibration") or {}) or None),
  )
  for name, plot, data in figures:
    if data:
      plot(data, os.path.join(report_dir, name))
      written.append(os.path.join(report_dir, name))
  written += explanations.write(summary, report_dir)  # EXPLANATION_FILES
  return written


def publish(
  summary: Dict[str, Any],
  output_dir: str,
  serving_model_dir: str,
  scored: Optional[predictions.Scored] = None,
) -> str:
  """The report under output_dir/report, and beside a pushed model as reports/<version>.

  Returns the directory next to the pushed model, or output_dir/report when nothing was pushed.
  """
  local = os.path.join(output_dir, REPORT_DIR)
  write_report(summary, local, scored)
  if not summary.get("pushed_version"):
    return local
  beside = os.path.join(serving_model_dir, "reports", summary["pushed_version"])
  write_report(summary, beside, scored)
  return beside
