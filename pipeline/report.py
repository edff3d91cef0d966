"""The run report: confusion matrix, training curves and calibration plots, a per-class table
and a model card, written from the run summary.

  python -m pipeline.report --output-dir DIR   # the latest run under DIR; prints the table
"""

import argparse
import os
import sys
from typing import Any, Dict, List, Optional

from pipeline import escape, schedule

# matplotlib and TensorFlow are imported where they are used: `python -m pipeline.report`
# answers a usage error at once, without TensorFlow's start-up lines.


def _pyplot():
  """pyplot, drawing to files (Agg) unless a notebook has already chosen its backend."""
  if "matplotlib.pyplot" not in sys.modules:
    import matplotlib  # pylint: disable=import-outside-toplevel

    matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

  return plt


def _gfile():
  import tensorflow as tf  # pylint: disable=import-outside-toplevel

  return tf.io.gfile


REPORT_DIR = "report"
EXPLANATION_FILES = ("gradcam.png", "misclassified.png")  # pipeline/explanations.py writes them
FILES = (
  "model_card.md",
  "per_class.md",
  "confusion_matrix.png",
  "training_curves.png",
  "calibration.png",
) + EXPLANATION_FILES


def _with_interval(value: Optional[float], interval: Optional[List[float]]) -> str:
  if value is None:
    return "n/a"
  return f"{value:.4f}" + (f" ({interval[0]:.2f}-{interval[1]:.2f})" if interval else "")


def per_class_table(summary: Dict[str, Any]) -> str:
  """Markdown: per class its gate-split images and predictions, top-1 precision and recall with
  95 % Wilson intervals, and F1; values under their bound marked ✗."""
  metrics, thresholds = summary["metrics"], summary["thresholds"]
  split = metrics.get("split", "eval")
  rows = [
    f"| class | {split} images | predicted | precision (95 % CI) | recall (95 % CI) | F1 |",
    "|---|---:|---:|---:|---:|---:|",
  ]
  for name, values in metrics["per_class"].items():
    cells = []
    for metric, bound in (
      ("precision", thresholds["min_class_precision"]),
      ("recall", thresholds["min_class_recall"]),
    ):
      value = values.get(metric)
      cell = _with_interval(value, values.get(metric + "_95ci"))
      if metric == "precision" and values.get("never_predicted"):
        cell += " never predicted"
      cells.append(cell + (" ✗" if bound and (value or 0.0) < bound else ""))
    f1 = values.get("f1_score")
    cells.append("n/a" if f1 is None else f"{f1:.4f}")
    rows.append(
      f"| {escape.markdown(name)} | {values.get('images', '')} | {values.get('predicted', '')} | "
      + " | ".join(cells)
      + " |"
    )
  return "\n".join(rows) + "\n"


def _save(figure, path: Optional[str]):
  """Writes the figure as PNG to path and closes it; without a path returns it (notebooks)."""
  if path is None:
    return figure
  with _gfile().GFile(path, "wb") as f:
    figure.savefig(f, format="png", dpi=100, bbox_inches="tight")
  _pyplot().close(figure)
  return None


def plot_confusion_matrix(matrix: Dict[str, Any], path: Optional[str] = None):
  names, counts = matrix["classes"], matrix["counts"]
  size = max(4.0, 0.5 * len(names) + 2)
  figure, axes = _pyplot().subplots(figsize=(size, size))
  axes.imshow(counts, cmap="Blues")
  axes.set(
    xticks=range(len(names)),
    yticks=range(len(names)),
    xticklabels=[escape.plot(n) for n in names],
    yticklabels=[escape.plot(n) for n in names],
    xlabel="predicted",
    ylabel="actual",
    title="Confusion matrix",
  )
  _pyplot().setp(axes.get_xticklabels(), rotation=45, ha="right")
  peak = max(max(row) for row in counts) or 1
  for i, row in enumerate(counts):
    for j, count in enumerate(row):
      if count:
        axes.text(
          j,
          i,
          count,
          ha="center",
          va="center",
          fontsize=8,
          color="white" if count > peak / 2 else "black",
        )
  return _save(figure, path)


def plot_training_curves(epoch_log: List[Dict[str, Any]], path: Optional[str] = None):
  figure, (loss, accuracy) = _pyplot().subplots(1, 2, figsize=(10, 4))
  epochs = list(range(1, len(epoch_log) + 1))
  for axes, metric in ((loss, "loss"), (accuracy, "sparse_categorical_accuracy")):
    for prefix, label in (("", "train"), ("val_", "validation")):
      values = [e.get(prefix + metric) for e in epoch_log]
      if any(v is not None for v in values):
        axes.plot(epochs, values, marker="o", label=label)
    axes.set(xlabel="epoch", title=metric.replace("sparse_categorical_", ""))
    axes.legend()
  return _save(figure, path)


def plot_calibration(calibration: Dict[str, Any], path: Optional[str] = None):
  figure, axes = _pyplot().subplots(figsize=(5, 5))
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
  return _save(figure, path)


def _settings_lines(settings: Dict[str, Any]) -> List[str]:
  """The model card's training settings, one item a line."""
  if not settings:
    return []
  model = settings["model"] + (
    f" {settings['model_variant']}" if settings.get("model_variant") else ""
  )
  applied = settings.get("class_weights_applied")
  lines = [
    f"- Model: {model}"
    + (f", width {settings['width']}" if settings.get("width") else "")
    + f", dropout {settings['dropout']:.2g}",
    "- Weights: "
    + (
      f"{escape.code(settings['weights'])}, then "
      f"{settings.get('fine_tune_epochs') or 0} fine-tuning epochs"
      if settings.get("weights")
      else "trained from scratch"
    ),
    f"- Input: {'x'.join(map(str, settings['input_shape']))} pixels, resized by "
    f"{settings['resize']}",
    f"- Learning rate {settings['learning_rate']:.3g} ({settings['lr_schedule']} schedule), "
    f"{settings['epochs']} epochs planned, batch {settings['batch_size']}",
    "- Augmentation: " + (", ".join(settings["augment"]) or "none"),
    f"- Class weights: {settings['class_weights']}"
    + (
      " (" + ", ".join(f"{escape.markdown(c)} {w}" for c, w in applied.items()) + ")"
      if applied
      else " (not applied: classes balanced enough)"
      if settings["class_weights"] == "auto"
      else ""
    ),
  ]
  if settings.get("tuned"):
    from pipeline.summary import tuned_text  # pylint: disable=import-outside-toplevel

    lines.append("- Tuner's choice: " + tuned_text(settings["tuned"]))
  return lines


def _baseline_line(metrics: Dict[str, Any], thresholds: Dict[str, Any]) -> str:
  baseline, skipped = metrics.get("baseline"), metrics.get("baseline_skipped")
  if baseline:
    return (
      f"- Baseline (last blessed model): accuracy {baseline['accuracy']}, change "
      f"{baseline['accuracy_change']:+} (allowed {thresholds['change']:+})"
    )
  if skipped:
    return (
      "- Baseline: not compared, the last blessed model's classes differ "
      f"({escape.markdown(skipped['reason'])}): thresholds only"
    )
  return "- Baseline: none (first blessed model: thresholds only)"


def _schedule_lines(summary: Dict[str, Any]) -> List[str]:
  """The spans trained on and the drift against the previous run's data."""
  lines = []
  if summary.get("spans") and len(summary["spans"]) > 1:
    lines.append(
      "- Trained on spans " + ", ".join(map(str, summary["spans"])) + f"; gated on span "
      f"{summary['span']}"
    )
  lines += [_item(line) for line in schedule.drift_summary_lines(summary.get("drift") or {})]
  if summary.get("pushed_regression") is not None:
    lines.append(_item(schedule.regression_line(summary)))
  return lines


def _item(line: str) -> str:
  """A console line as a list item: '- ', a capital first letter, escaped for Markdown."""
  line = line.strip()
  return "- " + escape.markdown(line[:1].upper() + line[1:])


def model_card(summary: Dict[str, Any]) -> str:
  metrics, thresholds = summary["metrics"], summary["thresholds"]
  training = summary.get("training") or {}
  rejected = ", ".join(f"{n} {r}" for r, n in summary["images_rejected"].items()) or "none"
  calibration = metrics.get("calibration") or {}
  pushed = summary["pushed_model_path"]
  lines = [
    f"# Model card: {escape.markdown(summary['pipeline_name'])}",
    "",
    f"Run {escape.code(summary['run_id'])}. **Blessed: {'yes' if summary['blessed'] else 'no'}**; "
    f"pushed: {escape.code(pushed) if pushed else 'nothing'}.",
    "",
    "## Data",
    f"- Source: {escape.code(summary['data_dir'])}"
    + (f" (span {summary['span']})" if summary.get("span") is not None else ""),
    f"- Images: {summary['images_found']} found, {summary['images_ingested']} ingested; "
    f"rejected: {rejected}",
    "- Splits: " + ", ".join(f"{k} {v}" for k, v in summary["splits"].items()),
    f"- Classes ({len(summary['classes'])}): "
    + ", ".join(escape.markdown(c) for c in summary["classes"]),
    *_schedule_lines(summary),
    "",
    "## Training",
    f"- Epochs: {training.get('epochs', 'n/a')}, training time {training.get('train_seconds', 'n/a')} s, "
    f"{training.get('images_per_second', 'n/a')} images/s",
    *(
      [_item(schedule.warm_start_text(training["warm_start"]))]
      if training.get("warm_start")
      else []
    ),
    *_settings_lines(training.get("settings") or {}),
    "",
    "## Evaluation",
    f"- Accuracy: {metrics.get('accuracy')} on {metrics.get('examples')} "
    f"{metrics.get('split', 'eval')} images "
    f"(bound {thresholds['accuracy']})",
    _baseline_line(metrics, thresholds),
    f"- Every class: recall >= {thresholds['min_class_recall']}, precision >= "
    f"{thresholds['min_class_precision']} (a bound of 0 is no gate)",
  ]
  if calibration:
    lines.append(
      f"- Top probability: mean {calibration['mean_top_probability']} vs accuracy "
      f"{calibration['top1_accuracy']}; expected calibration error "
      f"{calibration['expected_calibration_error']}"
    )
  if metrics.get("per_class"):
    lines += [
      "",
      "### By class",
      "",
      f"Precision, recall and F1 on top-1 predictions (each {metrics.get('split', 'eval')} "
      "image counts for its most probable class), so they equal the confusion matrix; "
      "in brackets the 95 % Wilson interval, wide for classes with few images.",
      "",
      per_class_table(summary).rstrip(),
      "",
    ]
  else:  # e.g. a run that DriftCheck stopped before training
    lines += ["- Not evaluated: the run stopped before the Evaluator", ""]
  lines += [f"- Warning: {escape.markdown(w)}" for w in summary.get("metric_warnings", [])]
  failures = summary["failed_gates"]
  lines += ["## Gates", ""] + (
    [f"- FAILED: {escape.markdown(f)}" for f in failures] or ["- All passed."]
  )
  check = summary.get("serving_check") or {}
  if check:
    lines.append(
      f"- Serving check: {'passed' if check['blessed'] else 'FAILED'} "
      f"({check.get('requests', 0)} requests with real images)"
      if check["blessed"]
      else f"- Serving check FAILED: {escape.markdown(check['reason'])}"
    )
  lines += ["", "Plots: confusion_matrix.png, training_curves.png, calibration.png.", ""]
  return "\n".join(lines)


def write_report(summary: Dict[str, Any], report_dir: str) -> List[str]:
  """Writes the report files that the summary has data for; returns their paths."""
  _gfile().makedirs(report_dir)
  metrics = summary["metrics"]
  written = []

  def text(name: str, content: str) -> None:
    with _gfile().GFile(os.path.join(report_dir, name), "w") as f:
      f.write(content)
    written.append(os.path.join(report_dir, name))

  text("model_card.md", model_card(summary))
  if metrics.get("per_class"):
    text("per_class.md", per_class_table(summary))
  plots = (
    ("confusion_matrix.png", plot_confusion_matrix, metrics.get("confusion_matrix")),
    ("training_curves.png", plot_training_curves, (summary.get("training") or {}).get("epoch_log")),
    ("calibration.png", plot_calibration, (metrics.get("calibration") or {}) or None),
  )
  for name, plot, data in plots:
    if data:
      plot(data, os.path.join(report_dir, name))
      written.append(os.path.join(report_dir, name))
  from pipeline import explanations  # pylint: disable=import-outside-toplevel

  written += explanations.write(summary, report_dir)  # EXPLANATION_FILES
  return written


def publish(summary: Dict[str, Any], output_dir: str, serving_model_dir: str) -> str:
  """The report under output_dir/report, and beside a pushed model as reports/<version>.

  Returns the directory next to the pushed model, or output_dir/report when nothing was pushed.
  """
  local = os.path.join(output_dir, REPORT_DIR)
  write_report(summary, local)
  if not summary.get("pushed_version"):
    return local
  beside = os.path.join(serving_model_dir, "reports", summary["pushed_version"])
  write_report(summary, beside)
  return beside


def _parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
    prog="python -m pipeline.report",
    allow_abbrev=False,
    description="Prints the per-class table of the latest run of a pipeline under an output "
    "dir and writes its report again (report/ and serving_model/reports/<version>/).",
  )
  parser.add_argument(
    "--output-dir",
    default="tfx_output",
    help="The --output-dir of the runs (holds metadata.db) (default: %(default)s).",
  )
  parser.add_argument(
    "--pipeline-name",
    default="image-classification",
    help="The --pipeline-name of the runs (default: %(default)s).",
  )
  parser.error = lambda message: (_ for _ in ()).throw(ValueError(message))
  return parser


def main(argv: Optional[List[str]] = None) -> int:
  """Exit 0 with the table and the report; 2 with one line when there is nothing to report.
  TensorFlow's and TFMA's own output goes to <output-dir>/logs/report-<time>.log."""
  import time  # pylint: disable=import-outside-toplevel

  from pipeline import configs, console  # pylint: disable=import-outside-toplevel

  try:
    args = _parser().parse_args(argv)
    config = configs.PipelineConfig(output_dir=args.output_dir, pipeline_name=args.pipeline_name)
    if not os.path.isfile(config.metadata_path):
      raise LookupError(
        f"{args.output_dir} holds no pipeline runs: {config.metadata_path} not found"
      )
  except (ValueError, LookupError) as e:
    print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
    return 2
  log = os.path.join(config.output_dir, "logs", time.strftime("report-%Y%m%d-%H%M%S.log"))
  with console.Console(log) as out:
    from pipeline import summary as run_summary  # pylint: disable=import-outside-toplevel

    try:
      result = run_summary.collect(config)
      if not result.get("metrics"):
        raise LookupError(
          f"the latest run of {args.pipeline_name!r} in {args.output_dir} has "
          "no evaluation (it stopped before the Evaluator)"
        )
      report_dir = publish(result, config.output_dir, config.serving_model_dir)
    except (LookupError, OSError, KeyError) as e:
      out.error(f"error: {str(e).splitlines()[0]} (details: {log})")
      return 2
  print(per_class_table(result), end="")
  print(f"report written to {report_dir}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
