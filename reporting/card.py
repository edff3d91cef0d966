"""The run summary as Markdown: the model card and the per-class table. Every user-supplied
string (class names, paths, reasons) goes through reporting/escape.py."""

from typing import Any, Dict, List, Optional

from reporting import console_text, escape, schedule_text


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


def _settings_lines(settings: Dict[str, Any]) -> List[str]:
  """The model card's training settings, one item a line."""
  if not settings:
    return []
  model = settings["model"] + (
    f" {settings['model_variant']}" if settings.get("model_variant") else ""
  )
  if settings.get("ensemble"):
    model += " of " + ", ".join(m["model"] for m in settings["ensemble"]) + " (mean probability)"
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
    lines.append("- Tuner's choice: " + console_text.tuned_text(settings["tuned"]))
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
  lines += [_item(line) for line in schedule_text.drift_summary_lines(summary.get("drift") or {})]
  if summary.get("pushed_regression") is not None:
    lines.append(_item(schedule_text.regression_line(summary)))
  return lines


def _ensemble_lines(block: Dict[str, Any]) -> List[str]:
  """A table: each ensemble member's accuracy beside the ensemble's, on the gated split."""
  if not block:
    return []

  def cell(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.4f}"

  split = block.get("split") or "eval"
  return [
    "",
    "### Ensemble",
    "",
    f"The served model averages its members' probabilities; accuracy on the same {split} images.",
    "",
    f"| model | seed | {split} accuracy |",
    "|---|---:|---:|",
    *(
      f"| member {i}: {escape.markdown(m['model'])} | {m['seed']} | {cell(m.get('accuracy'))} |"
      for i, m in enumerate(block["members"], 1)
    ),
    f"| **ensemble** | | **{cell(block.get('accuracy'))}** |",
    "",
  ]


def _item(line: str) -> str:
  """A console line as a list item: '- ', a capital first letter, escaped for Markdown."""
  line = line.strip()
  return "- " + escape.markdown(line[:1].upper() + line[1:])


def _mistakes_lines(block: Dict[str, Any]) -> List[str]:
  """The link to predictions.csv and a table of the most confident mistakes, by path."""
  if not block:
    return []
  lines = [
    "",
    "### Mistakes",
    "",
    f"{block['mistakes']} of {block['images']} {block['split']} images are misclassified; "
    f"every image's prediction is in [{block['file']}]({block['file']}) (path, sha256, true "
    "and predicted class, every class's probability).",
  ]
  worst = block["most_confident_mistakes"]
  if worst:
    lines += [
      "",
      f"The {len(worst)} most confident mistakes:",
      "",
      "| path | true | predicted | probability |",
      "|---|---|---|---:|",
    ] + [
      f"| {escape.markdown(m['path'])} | {escape.markdown(m['true_class'])} | "
      f"{escape.markdown(m['predicted_class'])} | {m['probability']:.2f} |"
      for m in worst
    ]
  return lines + [""]


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
      [_item(schedule_text.warm_start_text(training["warm_start"]))]
      if training.get("warm_start")
      else []
    ),
    *_settings_lines(training.get("settings") or {}),
    "",
    "## Evaluation",
    f"- Accuracy: {metrics.get('accuracy')} on {metrics.get('examples')} "
    f"{metrics.get('split', 'eval')} images "
    f"(bound {thresholds['accuracy']})"
    + (
      f"; top-5 accuracy {metrics['top_5_accuracy']}"
      if metrics.get("top_5_accuracy") is not None
      else ""
    ),
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
  lines += [f"- Advice: {escape.markdown(summary['advice'])}"] if summary.get("advice") else []
  lines += _ensemble_lines(summary.get("ensemble") or {})
  lines += _mistakes_lines(summary.get("predictions") or {})
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
