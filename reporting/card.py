"""The run record as Markdown: the model card and the per-class table. Every user-supplied
string (class names, paths, reasons) goes through reporting/escape.py; the run's facts are
reporting/run_text.py's lines, as the console shows them."""

from typing import Any, Dict, List, Optional

from reporting import (
  class_metrics,
  console_text,
  escape,
  inference,
  label_issues,
  prediction_drift,
  run_text,
)
from schemas import nodes
from schemas.outcomes import StageState
from schemas.run_record import RunRecord


def _with_interval(value: Optional[float], interval: Optional[List[float]]) -> str:
  if value is None:
    return "n/a"
  return f"{value:.4f}" + (f" ({interval[0]:.2f}-{interval[1]:.2f})" if interval else "")


def per_class_table(record: RunRecord) -> str:
  """Markdown: per class its gate-split images and predictions, top-1 precision and recall with
  95 % Wilson intervals, and F1; values under their bound marked ✗."""
  metrics, thresholds = record.metrics, record.thresholds
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


def confusion_lines(record: RunRecord) -> List[str]:
  """The most-confused class pairs of the gated split: images and share of the true class."""
  matrix = record.metrics.get("confusion_matrix")
  if not matrix:
    return []
  split = record.metrics.get("split", "eval")
  pairs = class_metrics.confused_pairs(matrix)
  lines = ["", "### Most confused classes", ""]
  if not pairs:
    return lines + [f"None: every {split} image was classified right.", ""]
  return (
    lines
    + [
      f"The {len(pairs)} (true, predicted) pairs of most {split} images, with their share of "
      "the true class's images (the counts: confusion_matrix.png; as shares of each true "
      "class: confusion_matrix_normalized.png).",
      "",
      "| true class | predicted as | images | share of the true class |",
      "|---|---|---:|---:|",
    ]
    + [
      f"| {escape.markdown(p['true'])} | {escape.markdown(p['predicted'])} | {p['images']} | "
      f"{p['share_of_true']:.1%} |"
      for p in pairs
    ]
    + [""]
  )


def per_class_markdown(record: RunRecord) -> str:
  """per_class.md: the per-class table and the most-confused class pairs."""
  return per_class_table(record) + "\n".join(confusion_lines(record))


def _prediction_drift_lines(drift: Dict[str, Any]) -> List[str]:
  """This run's predictions against the previous inference run's, measure by measure."""
  if not drift.get("baseline"):
    return [_item(prediction_drift.console_line(drift))]
  run = escape.code(drift["baseline"]["run_id"])
  linf, js, top = drift["l_infinity"], drift["jensen_shannon"], drift["mean_top_probability"]

  def bound(check: Dict[str, Any]) -> str:
    return f"{check['threshold']:g}" if check["threshold"] else "not checked"

  def drifted(check: Dict[str, Any]) -> str:
    return "**yes**" if check["drifted"] else "no"

  return [
    f"- Prediction drift against run {run}: "
    + ("**" + ", ".join(drift["drifted"]).replace("_", " ") + "**" if drift["drifted"] else "none"),
    "",
    "| measure | distance | bound | drifted |",
    "|---|---:|---:|---|",
    f"| predicted classes, L-infinity (class {escape.markdown(linf['class'])}: "
    f"{linf['share']:.2f}, was {linf['previous_share']:.2f}) | {linf['distance']:.4f} | "
    f"{bound(linf)} | {drifted(linf)} |",
    f"| predicted classes, Jensen-Shannon divergence | {js['distance']:.4f} | {bound(js)} | "
    f"{drifted(js)} |",
    f"| mean top probability ({top['current']:.4f}, was {top['previous']:.4f}) | "
    f"{top['change']:+.4f} | {bound(top)} | {drifted(top)} |",
  ]


def _inference_lines(block: Optional[Dict[str, Any]]) -> List[str]:
  """--infer-dir: what was scored, what to label next and the prediction drift."""
  if not block:
    return []
  lines = ["", "## Batch inference", "", _item(inference.console_line(block))]
  lines += [_item(line) for line in filter(None, [inference.to_label_line(block)])]
  if block.get("prediction_drift"):
    lines += _prediction_drift_lines(block["prediction_drift"])
  return lines


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
    f"- Label smoothing: {settings.get('label_smoothing') or 0:g}",
    "- Weight averaging (EMA): "
    + ("yes, the exported weights are the average" if settings.get("ema") else "no"),
    f"- Class weights: {settings['class_weights']}"
    + (
      " (" + ", ".join(f"{escape.markdown(c)} {w}" for c, w in applied.items()) + ")"
      if applied
      else " (not applied: classes balanced enough)"
      if settings["class_weights"] == "auto"
      else ""
    ),
  ]
  if settings.get("recipe"):
    lines.append(f"- Recipe: {escape.markdown(settings['recipe'])}")
  if settings.get("tuned"):
    lines.append("- Tuner's choice: " + console_text.tuned_text(settings["tuned"]))
  return lines


def _models_lines(record: RunRecord) -> List[str]:
  """Which model the candidate was compared with and which its training started from."""
  lines = [_item(line) for line in filter(None, [run_text.baseline_line(record)])]
  baseline = record.models.baseline
  if baseline and baseline.uri:
    lines.append(f"- Baseline model: {escape.code(baseline.uri)}")
  warm = record.models.warm_start
  if warm and warm.uri:
    lines.append(
      f"- Warm start from: {escape.code(warm.uri)}"
      + (f" (run {escape.code(warm.run_id)})" if warm.run_id else "")
    )
  return lines


def _schedule_lines(record: RunRecord) -> List[str]:
  """The span trained on (or blocked), the spans of the window and the drift."""
  lines = [_item(line) for line in filter(None, [run_text.span_line(record)])]
  lines += [_item(line) for line in run_text.drift_lines(record.drift)]
  if record.pushed_regression is not None:
    lines.append(_item(run_text.regression_line(record)))
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
    f"| model | seed | epochs | {split} accuracy |",
    "|---|---:|---:|---:|",
    *(
      f"| member {i}: {escape.markdown(m['model'])} | {m['seed']} | {m.get('epochs') or 'n/a'} "
      f"| {cell(m.get('accuracy'))} |"
      for i, m in enumerate(block["members"], 1)
    ),
    f"| **ensemble** | | | **{cell(block.get('accuracy'))}** |",
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
  if block.get("gradcam_skipped"):  # the report has no gradcam.png: why
    lines += ["", escape.markdown(block["gradcam_skipped"]) + "."]
  return lines + [""]


def _training_lines(record: RunRecord) -> List[str]:
  training = record.training
  if not training:
    return ["- Not trained in this run"]
  lines = [_item(line) for line in run_text.training_lines(record)]
  if record.state(nodes.TRAINER) is StageState.CACHED:  # the figures of the run that trained it
    lines.append(
      f"- That run: {training.get('epochs', 'n/a')} epochs, {training.get('train_seconds')} s"
    )
  return lines + _settings_lines(training.get("settings") or {})


def _exports_lines(record: RunRecord) -> List[str]:
  """Each export format's parity figures and where its files went, or why not."""
  found = [
    f"- {name}: {escape.markdown(line.split(': ', 1)[1])}"
    for name, line in (
      ("TFLite", console_text.format_tflite(record.tflite)),
      ("ONNX", console_text.format_onnx(record.onnx)),
    )
    if line
  ]
  return ["", "## Exports", ""] + found if found else []


def _data_lines(record: RunRecord) -> List[str]:
  rejected = ", ".join(f"{n} {r}" for r, n in record.images_rejected.items()) or "none"
  return [
    "## Data",
    f"- Source: {escape.code(record.data_dir)}"
    + (f" (span {record.span})" if record.span is not None else ""),
    f"- Images: {record.images_found} found, {record.images_ingested} ingested; "
    f"rejected: {escape.markdown(rejected)}",
    "- Splits: " + ", ".join(f"{k} {v}" for k, v in record.splits.items()),
    f"- Classes ({len(record.classes)}): " + ", ".join(escape.markdown(c) for c in record.classes),
    *_schedule_lines(record),
  ]


def _evaluation_lines(record: RunRecord) -> List[str]:
  """The gate split's accuracy, the baseline, the bounds, calibration and the class table."""
  metrics, thresholds = record.metrics, record.thresholds
  calibration = metrics.get("calibration") or {}
  lines = [
    "## Evaluation",
    f"- Accuracy: {metrics.get('accuracy')} on {metrics.get('examples')} "
    f"{metrics.get('split', 'eval')} images "
    f"(bound {thresholds['accuracy']})"
    + (
      f"; top-5 accuracy {metrics['top_5_accuracy']}"
      if metrics.get("top_5_accuracy") is not None
      else ""
    ),
    *_models_lines(record),
    f"- Every class: recall >= {thresholds['min_class_recall']}, precision >= "
    f"{thresholds['min_class_precision']} (a bound of 0 is no gate)",
  ]
  if calibration:
    lines.append(
      f"- Top probability: mean {calibration['mean_top_probability']} vs accuracy "
      f"{calibration['top1_accuracy']}; expected calibration error "
      f"{calibration['expected_calibration_error']}"
    )
  if not metrics.get("per_class"):  # e.g. a run that DriftCheck stopped before training
    return lines + ["- Not evaluated: the run stopped before the Evaluator", ""]
  return lines + [
    "",
    "### By class",
    "",
    f"Precision, recall and F1 on top-1 predictions (each {metrics.get('split', 'eval')} "
    "image counts for its most probable class), so they equal the confusion matrix; "
    "in brackets the 95 % Wilson interval, wide for classes with few images.",
    "",
    per_class_table(record).rstrip(),
    *confusion_lines(record),
  ]


def _gate_lines(record: RunRecord) -> List[str]:
  lines = ["## Gates", ""] + (
    [f"- FAILED: {escape.markdown(f)}" for f in record.failed_gates] or ["- All passed."]
  )
  check = record.serving_check
  if check:
    lines.append(
      f"- Serving check: passed ({check.get('requests', 0)} requests with real images)"
      if check["blessed"]
      else f"- Serving check FAILED: {escape.markdown(check['reason'])}"
    )
  return lines


def model_card(record: RunRecord) -> str:
  """The run record as a model card: data, training, evaluation, findings, gates, exports."""
  lines = [
    f"# Model card: {escape.markdown(record.pipeline_name)}",
    "",
    f"Run {escape.code(record.run_id)}: {record.status}. "
    f"**Blessed: {'yes' if record.blessed else 'no'}**; "
    f"{escape.markdown(run_text.serving_line(record))}.",
    "",
    *_data_lines(record),
    "",
    "## Training",
    *_training_lines(record),
    "",
    *_evaluation_lines(record),
  ]
  lines += [f"- Warning: {escape.markdown(w)}" for w in record.metric_warnings + record.warnings]
  lines += [f"- Advice: {escape.markdown(record.advice)}"] if record.advice else []
  lines += _ensemble_lines(record.ensemble or {})
  lines += _mistakes_lines(record.predictions or {})
  lines += label_issues.card_lines(record.label_issues)
  lines += _gate_lines(record)
  lines += _inference_lines(record.inference)
  lines += _exports_lines(record)
  lines += [
    "",
    "Plots: confusion_matrix.png, confusion_matrix_normalized.png, training_curves.png, "
    "calibration.png.",
    "",
  ]
  return "\n".join(lines)
