"""The report's plots, drawn from the run summary: confusion matrix (counts, and shares of each
true class), training curves and calibration of the top probability. matplotlib is imported where it is used."""

import sys
from typing import Any, Dict, List, Optional

from reporting import class_metrics, escape


def _gfile():
  import tensorflow as tf  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)

  return tf.io.gfile


def pyplot():
  """pyplot, drawing to files (Agg) unless a notebook has already chosen its backend."""
  if "matplotlib.pyplot" not in sys.modules:
    import matplotlib  # noqa: PLC0415  (matplotlib: only to plot)

    matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # noqa: PLC0415  (matplotlib: only to plot)

  return plt


def save(figure, path: Optional[str]):
  """Writes the figure as PNG to path and closes it; without a path returns it (notebooks)."""
  if path is None:
    return figure
  with _gfile().GFile(path, "wb") as f:
    figure.savefig(f, format="png", dpi=100, bbox_inches="tight")
  pyplot().close(figure)
  return None


def plot_confusion_matrix(
  matrix: Dict[str, Any], path: Optional[str] = None, normalize: bool = False
):
  """The counts, or with `normalize` each true class's row as shares of its images (so that
  a small class's confusions show as plainly as a large one's)."""
  names = matrix["classes"]
  values = class_metrics.normalized(matrix) if normalize else matrix["counts"]
  size = max(4.0, 0.5 * len(names) + 2)
  figure, axes = pyplot().subplots(figsize=(size, size))
  axes.imshow(values, cmap="Blues", **({"vmin": 0.0, "vmax": 1.0} if normalize else {}))
  axes.set(
    xticks=range(len(names)),
    yticks=range(len(names)),
    xticklabels=[escape.plot(n) for n in names],
    yticklabels=[escape.plot(n) for n in names],
    xlabel="predicted",
    ylabel="actual",
    title="Confusion matrix, as shares of each true class" if normalize else "Confusion matrix",
  )
  pyplot().setp(axes.get_xticklabels(), rotation=45, ha="right")
  peak = 1.0 if normalize else (max(max(row) for row in values) or 1)
  for i, row in enumerate(values):
    for j, value in enumerate(row):
      if value:
        axes.text(
          j,
          i,
          f"{value:.2f}" if normalize else value,
          ha="center",
          va="center",
          fontsize=8,
          color="white" if value > peak / 2 else "black",
        )
  return save(figure, path)


def plot_training_curves(epoch_log: List[Dict[str, Any]], path: Optional[str] = None):
  figure, (loss, accuracy) = pyplot().subplots(1, 2, figsize=(10, 4))
  epochs = list(range(1, len(epoch_log) + 1))
  for axes, metric in ((loss, "loss"), (accuracy, "sparse_categorical_accuracy")):
    for prefix, label in (("", "train"), ("val_", "validation")):
      values = [e.get(prefix + metric) for e in epoch_log]
      if any(v is not None for v in values):
        axes.plot(epochs, values, marker="o", label=label)
    axes.set(xlabel="epoch", title=metric.replace("sparse_categorical_", ""))
    axes.legend()
  return save(figure, path)


def plot_calibration(calibration: Dict[str, Any], path: Optional[str] = None):
  figure, axes = pyplot().subplots(figsize=(5, 5))
  axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
  bins = calibration["bins"]
  axes.plot(
    [b["mean_confidence"] for b in bins],
    [b["accuracy"] for b in bins],
    marker="o",
    label=f"model (ECE {calibration['expected_calibration_error']:.3f})",
  )
  axes.set(
    xlabel="top probability",
    ylabel="accuracy",
    xlim=(0, 1),
    ylim=(0, 1),
    title="Calibration of the top probability",
  )
  axes.legend()
  return save(figure, path)
