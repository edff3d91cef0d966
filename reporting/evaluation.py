"""An evaluation's figures, read from TFMA's results with TFMA's loaders: accuracy and example
count, per-class top-1 precision/recall/F1 (by metric key), the confusion matrix,
top-probability calibration, the baseline comparison, the bounds gated on and the failed
gates."""

import math
from typing import Any, Dict, List, Optional

import tensorflow_model_analysis as tfma

from components.evaluator import executor as evaluator_executor
from reporting import class_metrics
from schemas.features import ACCURACY, TOP_K_ACCURACY

CALIBRATION_BINS = 10
CANDIDATE, BASELINE = "candidate", "baseline"  # model names in TFMA results with a baseline


def _number(value: Optional[float]) -> Optional[float]:
  """A metric value rounded, None when undefined (absent or NaN)."""
  return None if value is None or math.isnan(value) else round(value, 4)


def _overall_metrics(evaluation_uri: str) -> Dict[Any, float]:
  """The overall slice's metric values by (model name, metric name, class id or None,
  is_diff), read with tfma.load_metrics: per-class values by their MetricKey's sub_key, not by
  parsing "classId:N" strings."""
  values = {}
  for metrics_for_slice in tfma.load_metrics(evaluation_uri):
    if metrics_for_slice.slice_key.single_slice_keys:  # a per-slice result, not the overall one
      continue
    for entry in metrics_for_slice.metric_keys_and_values:
      key = entry.key
      if not entry.value.HasField("double_value"):
        continue
      class_id = key.sub_key.class_id.value if key.sub_key.HasField("class_id") else None
      if key.sub_key.HasField("k") or (
        key.sub_key.HasField("top_k") and key.name != TOP_K_ACCURACY
      ):  # binarized by rank, not a summary figure (but older evaluations' top-5 Recall)
        continue
      values[(key.model_name, key.name, class_id, key.is_diff)] = entry.value.double_value.value
  return values


def _class_name(class_names: List[str], class_id: int) -> str:
  return class_names[class_id] if 0 <= class_id < len(class_names) else str(class_id)


def _confusion_matrix(plot: Dict[str, Any], class_names: List[str]) -> Dict[str, Any]:
  """TFMA's multi-class confusion matrix as counts[actual][predicted], in class id order."""
  size = len(class_names)
  counts = [[0] * size for _ in range(size)]
  for entry in plot["matrices"][0]["entries"]:
    actual, predicted = entry.get("actualClassId", 0), entry.get("predictedClassId", 0)
    if 0 <= actual < size and 0 <= predicted < size:
      counts[actual][predicted] += int(entry.get("numWeightedExamples", 0))
  return {"classes": list(class_names), "counts": counts}


def _calibration(buckets: List[Dict[str, Any]]) -> Dict[str, Any]:
  """Reliability of the top probability, from TFMA's top-1 calibration histogram.

  One entry per example: the top probability and whether the top class was right (evaluations
  made before the histogram was micro-averaged over the top 1 also hold the other classes, at
  -inf, which are skipped). They are regrouped into CALIBRATION_BINS equal bins; the expected
  calibration error weighs each bin's gap between confidence and accuracy by its share of
  examples.
  """
  bins = [{"examples": 0.0, "correct": 0.0, "confidence": 0.0} for _ in range(CALIBRATION_BINS)]
  for bucket in buckets:
    lower = float(bucket.get("lowerThresholdInclusive", 0.0))
    if math.isinf(lower) or not bucket.get("numWeightedExamples"):
      continue
    b = bins[min(int(lower * CALIBRATION_BINS), CALIBRATION_BINS - 1)]
    b["examples"] += bucket["numWeightedExamples"]
    b["correct"] += bucket.get("totalWeightedLabel", 0.0)
    b["confidence"] += bucket.get("totalWeightedRefinedPrediction", 0.0)
  total = sum(b["examples"] for b in bins)
  if not total:
    return {}
  table = [
    {
      "range": [i / CALIBRATION_BINS, (i + 1) / CALIBRATION_BINS],
      "examples": int(b["examples"]),
      "mean_confidence": round(b["confidence"] / b["examples"], 4),
      "accuracy": round(b["correct"] / b["examples"], 4),
    }
    for i, b in enumerate(bins)
    if b["examples"]
  ]
  return {
    "mean_top_probability": round(sum(b["confidence"] for b in bins) / total, 4),
    "top1_accuracy": round(sum(b["correct"] for b in bins) / total, 4),
    "expected_calibration_error": round(
      sum(abs(b["confidence"] - b["correct"]) for b in bins) / total, 4
    ),
    "bins": table,
  }


def evaluation_metrics(
  evaluation_uri: str, class_names: List[str], baseline_uri: Optional[str] = None
) -> Dict[str, Any]:
  """The candidate's overall slice: accuracy, per-class precision/recall/F1 on top-1
  predictions with image counts and 95 % intervals, confusion matrix, top-probability
  calibration, and the baseline's accuracy when it was compared.

  Which baseline the Evaluator had, and whether it compared it, is read from the evaluation
  (MLMD records no second input event when the baseline is the candidate itself);
  `baseline_uri` is the fallback for evaluations made before that record existed.
  """
  comparison = evaluator_executor.read_comparison(evaluation_uri) or {
    "baseline": baseline_uri,
    "compared": bool(baseline_uri),
    "reason": "",
  }
  compared = comparison["compared"]
  model = CANDIDATE if compared else ""
  values = _overall_metrics(evaluation_uri)

  def value(name, class_id=None, model_name=model, diff=False):
    found = values.get((model_name, name, class_id, diff))
    if found is None and not diff:  # e.g. example_count, computed once for all models
      found = values.get(("", name, class_id, diff))
    return _number(found)

  class_ids = sorted({k[2] for k in values if k[0] == model and k[2] is not None})
  tfma_per_class = {
    _class_name(class_names, class_id): {
      m: value(m, class_id)
      for m in ("precision", "recall", "f1_score")
      if (model, m, class_id, False) in values
    }
    for class_id in class_ids
  }
  metrics = {"accuracy": value(ACCURACY), "examples": int(value("example_count") or 0)}
  if value(TOP_K_ACCURACY) is not None:
    metrics["top_5_accuracy"] = value(TOP_K_ACCURACY)
  result = tfma.load_eval_result(evaluation_uri, model_name=model or None)
  plots = dict(result.plots).get((), {}).get("", {})
  if "" in plots:
    metrics["confusion_matrix"] = _confusion_matrix(
      plots[""]["multiClassConfusionMatrixAtThresholds"], class_names
    )
    metrics["per_class"] = class_metrics.per_class(tfma_per_class, metrics["confusion_matrix"])
  else:
    metrics["per_class"] = tfma_per_class
  if compared:
    metrics["baseline"] = {
      "model": comparison["baseline"],
      "accuracy": value(ACCURACY, model_name=BASELINE),
      "accuracy_change": value(ACCURACY, diff=True),
    }
  elif comparison["baseline"]:
    metrics["baseline_skipped"] = {"model": comparison["baseline"], "reason": comparison["reason"]}
  if "topK:1" in plots:
    metrics["calibration"] = _calibration(plots["topK:1"]["calibrationHistogramBuckets"]["buckets"])
  return metrics


def thresholds(evaluation_uri: str) -> Dict[str, float]:
  """The bounds the Evaluator gated this evaluation on, read from its own eval config (a
  per-class bound of 0 is no gate, so it is absent there and 0 here)."""
  from tensorflow_model_analysis.writers import eval_config_writer  # noqa: PLC0415  (TFMA/TFDV/TFT: loaded when used)

  eval_config = eval_config_writer.load_eval_run(evaluation_uri)[0]
  found = {"accuracy": 0.0, "min_class_recall": 0.0, "min_class_precision": 0.0, "change": None}
  names = {
    "SparseCategoricalAccuracy": "accuracy",
    "Top1Recall": "min_class_recall",
    "Top1Precision": "min_class_precision",
  }
  for spec in eval_config.metrics_specs:
    for metric in spec.metrics:
      for per_slice in metric.per_slice_thresholds:
        threshold = per_slice.threshold
        if metric.class_name in names:
          found[names[metric.class_name]] = round(threshold.value_threshold.lower_bound.value, 6)
        if threshold.HasField("change_threshold"):
          found["change"] = round(threshold.change_threshold.absolute.value, 6)
  return found


def failed_gates(evaluation_uri: str, class_names: List[str], split: str) -> List[str]:
  """A line per failed gate, the metric named as the summary names it ("eval accuracy")."""
  validation = tfma.load_validation_result(evaluation_uri)
  failures = []
  for per_slice in validation.metric_validations_per_slice:
    for failure in per_slice.failures:
      key = failure.metric_key
      what = f"{split} accuracy" if key.name == ACCURACY else key.name
      if key.sub_key.HasField("class_id"):
        class_id = key.sub_key.class_id.value
        what += f" of class {_class_name(class_names, class_id)}"
      if key.is_diff:
        what += " change vs. baseline"
      value = failure.metric_value.double_value.value
      if math.isnan(value) and key.name == "precision":  # 0/0: no example predicted as it
        failures.append(f"{what} = 0 (never predicted)")
        continue
      failures.append(
        f"{what} = {value:.4f} ({failure.message or 'below threshold'})".replace(" ()", "")
      )
  return failures
