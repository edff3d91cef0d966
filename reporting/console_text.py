"""The run record as console text: a few lines for people at the end of a run."""

import os
from typing import Any, Dict, List, Optional

from reporting import escape, inference, label_issues, prediction_drift, run_text
from schemas import nodes
from schemas.outcomes import StageState
from schemas.run_record import RunRecord


def tuned_text(tuned: Dict[str, Any]) -> str:
  """The Tuner's chosen values, e.g. 'dropout 0.2, learning_rate 0.0031, width 64'."""
  return ", ".join(
    f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in sorted(tuned.items())
  )


def settings_line(settings: Dict[str, Any]) -> str:
  """The training settings in one line for people, e.g. 'cnn, width 32, on 32x32x3
  (squash); learning rate 0.001, cosine; 10 epochs of batch 32; dropout 0.3; no
  augmentation; class weights auto (not applied)', or 'recipe strong: cnn, width 48, ...;
  augment flip, erasing; label smoothing 0.1; EMA of the weights; ...'."""
  if not settings:
    return ""
  model = " ".join(filter(None, [settings["model"], settings.get("model_variant")]))
  if settings.get("ensemble"):
    model = f"ensemble of {', '.join(m['model'] for m in settings['ensemble'])}" + (
      f" ({settings['model_variant']})" if settings.get("model_variant") else ""
    )
  if settings.get("width"):
    model += f", width {settings['width']}"
  if settings.get("weights"):
    model += f", from {os.path.basename(settings['weights'])}"
  parts = [
    f"{model}, on {'x'.join(map(str, settings['input_shape']))} ({settings['resize']})",
    f"learning rate {settings['learning_rate']:.3g}, {settings['lr_schedule']}",
    f"{settings['epochs']} epochs of batch {settings['batch_size']}",
    f"dropout {settings['dropout']:.2g}",
    ("augment " + ", ".join(settings["augment"])) if settings["augment"] else "no augmentation",
    *(
      [f"label smoothing {settings['label_smoothing']:g}"]
      if settings.get("label_smoothing")
      else []
    ),
    *(["EMA of the weights"] if settings.get("ema") else []),
    f"class weights {settings['class_weights']} "
    f"({'applied' if settings.get('class_weights_applied') else 'not applied'})",
  ]
  if settings.get("tuned"):
    parts.append("tuned: " + tuned_text(settings["tuned"]))
  return ("recipe " + settings["recipe"] + ": " if settings.get("recipe") else "") + "; ".join(
    parts
  )


def mistakes_line(block: Dict[str, Any]) -> str:
  """'mistakes: 12 of 360 eval images, the most confident 3/a.png (true 3, predicted 8,
  0.97); every image in predictions.csv'."""
  worst = block["most_confident_mistakes"][:1]
  return (
    f"mistakes: {block['mistakes']} of {block['images']} {block['split']} images"
    + (
      f", the most confident {escape.one_line(worst[0]['path'])} (true "
      f"{escape.one_line(worst[0]['true_class'])}, predicted {escape.one_line(worst[0]['predicted_class'])}, "
      f"{worst[0]['probability']:.2f})"
      if worst
      else ""
    )
    + f"; every image in {block['file']}"
  )


def ensemble_line(block: Dict[str, Any]) -> str:
  """'ensemble of 2: 0.9620 on test; members cnn (seed 0) 0.9510, cnn (seed 1) 0.9480'."""
  members = ", ".join(
    f"{m['model']} (seed {m['seed']}) "
    + ("n/a" if m.get("accuracy") is None else f"{m['accuracy']:.4f}")
    for m in block["members"]
  )
  accuracy = "n/a" if block.get("accuracy") is None else f"{block['accuracy']:.4f}"
  return (
    f"ensemble of {len(block['members'])}: {accuracy} on {block.get('split') or 'no split'}; "
    f"members {members}"
  )


def format_tflite(block: Dict[str, Any]) -> Optional[str]:
  """One summary line: sizes, agreement and where the TFLite files are, or why there are none."""
  if not block:
    return None
  if not block["path"]:
    return f"tflite: not pushed: {block.get('push_error') or block['reason']}"
  int8, float16 = block["int8"], block["float16"]
  return (
    f"tflite: int8 {int8['bytes'] / 1024:.0f} KiB, float16 {float16['bytes'] / 1024:.0f} "
    f"KiB; top-1 agrees with the SavedModel on {int8['agreement']:.1%} / "
    f"{float16['agreement']:.1%} of {block['images']} {block['split']} images (accuracy "
    f"{int8['accuracy']:.4f} / {float16['accuracy']:.4f} vs "
    f"{block['saved_model']['accuracy']:.4f}); in {block['path']}"
  )


def format_onnx(block: Dict[str, Any]) -> Optional[str]:
  """One summary line for the ONNX file, as format_tflite's for TFLite."""
  if not block:
    return None
  if not block["path"]:
    return f"onnx: not pushed: {block.get('push_error') or block['reason']}"
  return (
    f"onnx: {block['bytes'] / 1024:.0f} KiB, opset {block['opset']}; top-1 agrees with the "
    f"SavedModel on {block['agreement']:.1%} of {block['images']} {block['split']} images "
    f"(accuracy {block['accuracy']:.4f} vs {block['saved_model']['accuracy']:.4f}); in "
    f"{block['path']}"
  )


def _lowest_line(record: RunRecord) -> str:
  """The lowest class recall and precision (top-1), with their intervals and bounds, e.g.
  'lowest class recall (top-1): 9 0.9615 (95 % 0.81-0.99 of 26 images), threshold 0.5;
  precision: 3 0.9000 (95 % 0.76-0.96 of 30 predicted), threshold 0.5'."""
  metrics, parts = record.metrics, []
  for metric in ("recall", "precision"):
    name, worst = min(metrics["per_class"].items(), key=lambda kv: kv[1].get(metric) or 0.0)
    interval = worst.get(metric + "_95ci")
    basis = (
      f"{worst['images']} images" if metric == "recall" else f"{worst.get('predicted')} predicted"
    )
    parts.append(
      f"{escape.one_line(name)} {worst.get(metric) or 0.0:.4f}"
      + (f" (95 % {interval[0]:.2f}-{interval[1]:.2f} of {basis})" if interval else "")
      + (", never predicted" if metric == "precision" and worst.get("never_predicted") else "")
      + f", threshold {record.thresholds['min_class_' + metric]}"
    )
  return f"lowest class recall (top-1): {parts[0]}; precision: {parts[1]}"


def _joined(lines: List[str]) -> List[str]:
  """The training line and where training started, as one console line."""
  return ["; ".join(lines)] if lines else []


def format_summary(record: RunRecord) -> str:
  """A few lines for people: what this run did, read from its record."""
  rejected = ", ".join(f"{n} {r}" for r, n in record.images_rejected.items()) or "none"
  metrics = record.metrics
  lines = [
    f"images: {record.images_found} found, {record.images_ingested} ingested, rejected: {rejected}",
    "splits: " + ", ".join(f"{k} {v}" for k, v in record.splits.items()),
  ]
  lines += filter(None, [run_text.span_line(record)])
  if (record.drift or {}).get("baseline"):  # a first run's DriftCheck said so as it ran
    lines += run_text.drift_lines(record.drift)
  lines += _joined(run_text.training_lines(record))
  if record.training.get("settings") and record.state(nodes.TRAINER) is StageState.RAN:
    lines.append(f"settings: {settings_line(record.training['settings'])}")
  if metrics.get("accuracy") is not None:
    split = metrics.get("split", "eval")
    lines.append(
      f"{split} accuracy: {metrics['accuracy']:.4f} on {metrics['examples']} images "
      f"(threshold {record.thresholds['accuracy']})"
      + (
        f"; top-5 accuracy {metrics['top_5_accuracy']:.4f}"
        if metrics.get("top_5_accuracy") is not None
        else ""
      )
    )
    lines.append(_lowest_line(record))
    lines.append(run_text.baseline_line(record))
  if record.ensemble:
    lines.append(ensemble_line(record.ensemble))
  if record.predictions:
    lines.append(mistakes_line(record.predictions))
  lines += filter(None, [label_issues.console_line(record.label_issues)])
  lines += [f"data warning: {w}" for w in record.data_warnings]
  lines += [
    f"data anomaly in {split}: {feature}: {description}"
    for split, features in record.anomalies.items()
    for feature, description in features.items()
  ]
  lines += [f"metric warning: {w}" for w in record.metric_warnings[:1]]
  if len(record.metric_warnings) > 1:  # the model card lists them all
    lines[-1] += f" (and {len(record.metric_warnings) - 1} more in the model card)"
  lines += [f"warning: {w}" for w in record.warnings]
  if record.advice:
    lines.append(f"advice: {record.advice}")
  lines += [f"failed gate: {failure}" for failure in record.failed_gates]
  if record.push_error:
    lines.append(f"push error: {record.push_error}")
  lines.append(f"blessed: {'yes' if record.blessed else 'no'}; {run_text.serving_line(record)}")
  if record.pushed_regression is not None:
    lines.append(run_text.regression_line(record))
  lines += filter(None, [format_tflite(record.tflite), format_onnx(record.onnx)])
  if record.inference:
    lines.append(inference.console_line(record.inference))
    lines += filter(None, [inference.to_label_line(record.inference)])
    if record.inference.get("prediction_drift"):
      lines.append(prediction_drift.console_line(record.inference["prediction_drift"]))
  seconds = dict(record.stage_seconds)
  if record.report_seconds is not None:  # predictions.csv and the report, at the end
    seconds["report"] = record.report_seconds
  lines.append("seconds: " + ", ".join(f"{k} {v}" for k, v in seconds.items()))
  header = (
    f"Pipeline {escape.one_line(record.pipeline_name)} (run {record.run_id}, {record.status})"
  )
  return "\n".join([header] + ["  " + escape.one_line(line) for line in lines])
