"""The run report's files, written from the run record: under <output dir>/report and beside
a pushed model as serving_model/reports/<version>."""

import functools
import os
from typing import List, Optional

from reporting import card, explanations, label_issues, plots, predictions
from schemas import filenames
from schemas.run_record import RunRecord

FILES = (
  "model_card.md",
  "per_class.md",
  "confusion_matrix.png",
  "confusion_matrix_normalized.png",
  "training_curves.png",
  "calibration.png",
  filenames.PREDICTIONS_CSV,
) + explanations.FILES  # a run's report; with --find-label-issues also LABEL_ISSUES_FILES
LABEL_ISSUES_FILES = (filenames.LABEL_ISSUES_CSV, filenames.LABEL_ISSUES_GALLERY)


def write_report(
  record: RunRecord,
  report_dir: str,
  scored: Optional[predictions.Scored] = None,
  issues: Optional[label_issues.Found] = None,
) -> List[str]:
  """Writes the report files that the record has data for (predictions.csv: `scored`, the
  gated split through the model; label_issues.csv and .png: `issues`); returns their paths."""
  import tensorflow as tf  # noqa: PLC0415  (gs:// report dirs)

  tf.io.gfile.makedirs(report_dir)
  metrics = record.metrics
  written = []

  def text(name: str, content: str) -> None:
    with tf.io.gfile.GFile(os.path.join(report_dir, name), "w") as f:
      f.write(content)
    written.append(os.path.join(report_dir, name))

  text("model_card.md", card.model_card(record))
  if metrics.get("per_class"):
    text("per_class.md", card.per_class_markdown(record))
  if scored is not None:
    text(filenames.PREDICTIONS_CSV, predictions.csv_text(scored))
  if issues is not None:
    text(filenames.LABEL_ISSUES_CSV, label_issues.csv_text(issues.issues))
    label_issues.plot_gallery(issues, os.path.join(report_dir, filenames.LABEL_ISSUES_GALLERY))
    written.append(os.path.join(report_dir, filenames.LABEL_ISSUES_GALLERY))
  _drop_earlier_label_issues(record, report_dir)
  figures = (
    ("confusion_matrix.png", plots.plot_confusion_matrix, metrics.get("confusion_matrix")),
    (
      "confusion_matrix_normalized.png",
      functools.partial(plots.plot_confusion_matrix, normalize=True),
      metrics.get("confusion_matrix"),
    ),
    (
      "training_curves.png",
      plots.plot_training_curves,
      record.training.get("epoch_log"),
    ),
    ("calibration.png", plots.plot_calibration, (metrics.get("calibration") or {}) or None),
  )
  for name, plot, data in figures:
    if data:
      plot(data, os.path.join(report_dir, name))
      written.append(os.path.join(report_dir, name))
  written += explanations.write(record, report_dir)  # EXPLANATION_FILES
  return written


def _drop_earlier_label_issues(record: RunRecord, report_dir: str) -> None:
  """An earlier run's label_issues files, in a report folder of a run without LabelIssues:
  never to be taken for this run's."""
  import tensorflow as tf  # noqa: PLC0415  (gs:// report dirs)

  for name in LABEL_ISSUES_FILES if record.label_issues is None else ():
    if tf.io.gfile.exists(os.path.join(report_dir, name)):
      tf.io.gfile.remove(os.path.join(report_dir, name))


def publish(
  record: RunRecord,
  output_dir: str,
  serving_model_dir: str,
  scored: Optional[predictions.Scored] = None,
  issues: Optional[label_issues.Found] = None,
) -> str:
  """The report under output_dir/report, and beside a pushed model as reports/<version> (the
  same files, copied: drawn once).

  Returns the directory next to the pushed model, or output_dir/report when nothing was pushed.
  """
  import tensorflow as tf  # noqa: PLC0415  (gs:// report dirs)

  local = os.path.join(output_dir, filenames.REPORT_DIR)
  written = write_report(record, local, scored, issues)
  if not record.pushed_version:
    return local
  beside = os.path.join(serving_model_dir, filenames.SERVING_REPORTS, record.pushed_version)
  tf.io.gfile.makedirs(beside)
  for path in written:
    tf.io.gfile.copy(path, os.path.join(beside, os.path.basename(path)), overwrite=True)
  _drop_earlier_label_issues(record, beside)
  return beside
