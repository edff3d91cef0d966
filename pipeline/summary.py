"""run_summary.json and the printed summary, read from MLMD and the run's artifacts."""

import json
import math
import os
import statistics
from typing import Any, Dict, List, Optional

import tensorflow as tf
import tensorflow_model_analysis as tfma
import tensorflow_transform as tft
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from components.drift_check import executor as drift_executor
from components.evaluator import executor as evaluator_executor
from components.image_example_gen.executor import REPORT_FILE
from components.image_example_gen.sources import InputError, has_spec
from components.serving_check.executor import REPORT_FILE as SERVING_CHECK_REPORT
from components.tflite_export import executor as tflite_executor
from pipeline import class_metrics, schedule
from trainer_module.constants import ACCURACY, LABEL_VOCAB, TRAINING_LOG, TRAINING_SETTINGS

_OUTPUT_EVENTS = (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)
_INPUT_EVENTS = (metadata_store_pb2.Event.INPUT, metadata_store_pb2.Event.DECLARED_INPUT)
CALIBRATION_BINS = 10
CANDIDATE, BASELINE = "candidate", "baseline"  # model names in TFMA results with a baseline


class RunRecord:
  """The executions of one run of a pipeline (default: its latest) and their artifacts."""

  def __init__(
    self, store: metadata_store.MetadataStore, pipeline_name: str, run_id: Optional[str] = None
  ):
    runs = [
      c
      for c in store.get_contexts_by_type("pipeline_run")
      if pipeline_name in {p.name for p in store.get_parent_contexts_by_context(c.id)}
      and run_id in (None, c.name)
    ]
    if not runs:
      raise LookupError(
        f"no run {run_id + ' ' if run_id else ''}of pipeline {pipeline_name!r} "
        "in the metadata store"
      )
    run = max(runs, key=lambda c: (c.create_time_since_epoch, c.id))
    self.run_id = run.name
    self.executions: Dict[str, metadata_store_pb2.Execution] = {}
    self.outputs: Dict[str, Dict[str, List[metadata_store_pb2.Artifact]]] = {}
    self.inputs: Dict[str, Dict[str, List[metadata_store_pb2.Artifact]]] = {}
    for execution in store.get_executions_by_context(run.id):
      node = next(
        c.name for c in store.get_contexts_by_execution(execution.id) if c.type == "node"
      )[len(pipeline_name) + 1 :]  # "<pipeline>.<node id>"
      self.executions[node] = execution
      events = store.get_events_by_execution_ids([execution.id])
      artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
      for event in events:
        key = event.path.steps[0].key if event.path.steps else ""
        table = (
          self.outputs
          if event.type in _OUTPUT_EVENTS
          else self.inputs
          if event.type in _INPUT_EVENTS
          else None
        )
        if table is not None:
          table.setdefault(node, {}).setdefault(key, []).append(artifacts[event.artifact_id])

  def output(self, node: str, key: str) -> Optional[metadata_store_pb2.Artifact]:
    artifacts = self.outputs.get(node, {}).get(key)
    return artifacts[-1] if artifacts else None

  def input(self, node: str, key: str) -> Optional[metadata_store_pb2.Artifact]:
    artifacts = self.inputs.get(node, {}).get(key)
    return artifacts[-1] if artifacts else None

  def input_list(self, node: str, key: str) -> List[metadata_store_pb2.Artifact]:
    return list(self.inputs.get(node, {}).get(key, []))

  def stage_seconds(self) -> Dict[str, float]:
    return {
      node: round((e.last_update_time_since_epoch - e.create_time_since_epoch) / 1000, 1)
      for node, e in sorted(self.executions.items(), key=lambda kv: kv[1].id)
    }

  def states(self) -> Dict[str, str]:
    return {
      node: metadata_store_pb2.Execution.State.Name(e.last_known_state)
      for node, e in self.executions.items()
    }


def _int_property(artifact, name: str) -> Optional[int]:
  if artifact is None or name not in artifact.custom_properties:
    return None
  return artifact.custom_properties[name].int_value


def _number(value: Dict[str, Any]) -> Optional[float]:
  """A TFMA metric value as a float, None when undefined (NaN)."""
  number = float(value.get("doubleValue", "NaN"))
  return None if math.isnan(number) else round(number, 4)


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

  With top-k binarization TFMA scores the other classes as -inf; the remaining entries are one
  per example: the top probability and whether the top class was right. They are regrouped
  into CALIBRATION_BINS equal bins; the expected calibration error weighs each bin's gap
  between confidence and accuracy by its share of examples.
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


def _overall_slice(evaluation_uri: str, model_name: Optional[str]):
  result = tfma.load_eval_result(evaluation_uri, model_name=model_name)
  return result, dict(result.slicing_metrics)[()][""]


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
  result, overall = _overall_slice(evaluation_uri, CANDIDATE if compared else None)
  tfma_per_class = {}
  for sub_key, values in overall.items():
    if sub_key.startswith("classId:"):
      tfma_per_class[_class_name(class_names, int(sub_key.split(":")[1]))] = {
        m: _number(values[m]) for m in ("precision", "recall", "f1_score") if m in values
      }
  metrics = {
    "accuracy": _number(overall[""].get(ACCURACY, {})),
    "examples": int(_number(overall[""].get("example_count", {})) or 0),
  }
  plots = dict(result.plots).get((), {}).get("", {})
  if "" in plots:
    metrics["confusion_matrix"] = _confusion_matrix(
      plots[""]["multiClassConfusionMatrixAtThresholds"], class_names
    )
    metrics["per_class"] = class_metrics.per_class(tfma_per_class, metrics["confusion_matrix"])
  else:
    metrics["per_class"] = tfma_per_class
  if compared:
    _, baseline_overall = _overall_slice(evaluation_uri, BASELINE)
    metrics["baseline"] = {
      "model": comparison["baseline"],
      "accuracy": _number(baseline_overall[""].get(ACCURACY, {})),
      "accuracy_change": _number(overall[""].get(ACCURACY + "_diff", {})),
    }
  elif comparison["baseline"]:
    metrics["baseline_skipped"] = {"model": comparison["baseline"], "reason": comparison["reason"]}
  if "topK:1" in plots:
    metrics["calibration"] = _calibration(plots["topK:1"]["calibrationHistogramBuckets"]["buckets"])
  return metrics


def thresholds(evaluation_uri: str) -> Dict[str, float]:
  """The bounds the Evaluator gated this evaluation on, read from its own eval config (a
  per-class bound of 0 is no gate, so it is absent there and 0 here)."""
  from tensorflow_model_analysis.writers import eval_config_writer  # pylint: disable=import-outside-toplevel

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


def _failed_gates(evaluation_uri: str, class_names: List[str]) -> List[str]:
  validation = tfma.load_validation_result(evaluation_uri)
  failures = []
  for per_slice in validation.metric_validations_per_slice:
    for failure in per_slice.failures:
      key = failure.metric_key
      what = key.name
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


def _serving_check(blessing) -> Dict[str, Any]:
  """The ServingCheck's report: blessed, requests sent, or why it failed."""
  if blessing is None:
    return {}
  with tf.io.gfile.GFile(os.path.join(blessing.uri, SERVING_CHECK_REPORT)) as f:
    return json.load(f)


def _serving_failures(report: Dict[str, Any]) -> List[str]:
  return [f"serving check: {report['reason']}"] if report and not report["blessed"] else []


def _anomalies(anomalies_uri: str) -> Dict[str, Dict[str, str]]:
  """split -> feature -> ExampleValidator's description, from SchemaDiff.pb per split."""
  from tensorflow_data_validation.utils import anomalies_util  # pylint: disable=import-outside-toplevel

  result = {}
  for split_dir in sorted(tf.io.gfile.glob(os.path.join(anomalies_uri, "Split-*"))):
    anomalies = anomalies_util.load_anomalies_binary(os.path.join(split_dir, "SchemaDiff.pb"))
    result[os.path.basename(split_dir)[len("Split-") :]] = {
      feature: info.short_description or info.description
      for feature, info in sorted(anomalies.anomaly_info.items())
    }
  return result


def _training(model_run_uri: str) -> Dict[str, Any]:
  """Epochs run and training speed, from the Trainer's training log."""
  path = os.path.join(model_run_uri, TRAINING_LOG)
  if not tf.io.gfile.exists(path):
    return {}
  with tf.io.gfile.GFile(path) as f:
    epochs = [json.loads(line) for line in f]
  settings_path = os.path.join(model_run_uri, TRAINING_SETTINGS)
  settings = {}
  if tf.io.gfile.exists(settings_path):
    with tf.io.gfile.GFile(settings_path) as f:
      settings = json.load(f)
  return {
    "epochs": len(epochs),
    "train_seconds": round(sum(e["train_seconds"] for e in epochs), 1),
    "images_per_second": round(statistics.median(e["images_per_second"] for e in epochs)),
    "warm_start": settings.get("warm_start"),
    "settings": settings,
    "epoch_log": epochs,
  }


def tuned_text(tuned: Dict[str, Any]) -> str:
  """The Tuner's chosen values, e.g. 'dropout 0.2, learning_rate 0.0031, width 64'."""
  return ", ".join(
    f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in sorted(tuned.items())
  )


def settings_line(settings: Dict[str, Any]) -> str:
  """The training settings in one line for people, e.g. 'cnn, width 32, on 32x32x3
  (squash); learning rate 0.001, cosine; 10 epochs of batch 32; dropout 0.3; no
  augmentation; class weights auto (not applied)'."""
  if not settings:
    return ""
  model = " ".join(filter(None, [settings["model"], settings.get("model_variant")]))
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
    f"class weights {settings['class_weights']} "
    f"({'applied' if settings.get('class_weights_applied') else 'not applied'})",
  ]
  if settings.get("tuned"):
    parts.append("tuned: " + tuned_text(settings["tuned"]))
  return "; ".join(parts)


def _pushed(pushed) -> Dict[str, Any]:
  """Where the Pusher put the model, checked on disk: a claimed version that is not there is
  reported as a push error, never as a push."""
  if _int_property(pushed, "pushed") != 1:
    return {"pushed_model_path": None, "pushed_version": None}
  path = pushed.custom_properties["pushed_destination"].string_value
  if not tf.io.gfile.exists(os.path.join(path, "saved_model.pb")):
    return {
      "pushed_model_path": None,
      "pushed_version": None,
      "push_error": f"the Pusher reported {path}, which holds no SavedModel",
    }
  return {
    "pushed_model_path": path,
    "pushed_version": pushed.custom_properties["pushed_version"].string_value,
  }


def _tflite(export, pushed) -> Dict[str, Any]:
  """The TFLite export: parity figures and sizes, and the pushed folder (its files checked on
  disk), or why nothing was pushed."""
  if export is None:
    return {}
  report = tflite_executor.read_report(export.uri)
  block = {
    "passed": report["passed"],
    "reason": report.get("reason") or None,
    "path": None,
    **{
      k: report[k]
      for k in ("split", "images", "saved_model", "int8", "float16", "bounds")
      if k in report
    },
  }
  if _int_property(pushed, "pushed") != 1:
    block["reason"] = block["reason"] or "the model was not pushed"
  elif _int_property(pushed, "tflite_pushed") == 1:
    path = os.path.join(
      pushed.custom_properties["pushed_destination"].string_value, tflite_executor.FOLDER
    )
    names = [report[k]["file"] for k in ("int8", "float16")] + [
      tflite_executor.LABELS_FILE,
      tflite_executor.CONTRACT_FILE,
    ]
    missing = [n for n in names if not tf.io.gfile.exists(os.path.join(path, n))]
    if missing:
      block["push_error"] = f"{path} lacks {', '.join(missing)}"
    else:
      block["path"] = path
  return block


def format_tflite(block: Dict[str, Any]) -> Optional[str]:
  """One summary line: sizes, agreement and where the TFLite files are, or why there are none."""
  if not block:
    return None
  if not block["path"]:
    return f"  tflite: not pushed: {block.get('push_error') or block['reason']}"
  int8, float16 = block["int8"], block["float16"]
  return (
    f"  tflite: int8 {int8['bytes'] / 1024:.0f} KiB, float16 {float16['bytes'] / 1024:.0f} "
    f"KiB; top-1 agrees with the SavedModel on {int8['agreement']:.1%} / "
    f"{float16['agreement']:.1%} of {block['images']} {block['split']} images (accuracy "
    f"{int8['accuracy']:.4f} / {float16['accuracy']:.4f} vs "
    f"{block['saved_model']['accuracy']:.4f}); in {block['path']}"
  )


def window_spans(record, span: Optional[int]) -> List[int]:
  """The spans Transform and the Trainer had (the span window), newest first: ImageExampleGen's
  `span` of each Examples artifact the run's Transform read; [span] when the record does not
  list them (a compiled spec's run, whose window is one span)."""
  artifacts = record.input_list("Transform", "examples") if hasattr(record, "input_list") else []
  spans = sorted({_int_property(a, "span") for a in artifacts} - {None}, reverse=True)
  return spans or ([span] if span is not None else [])


def drift(record) -> Dict[str, Any]:
  """DriftCheck's report (drift.json) with its console lines, or {} when it did not run."""
  anomalies = record.output("DriftCheck", "anomalies")
  report = drift_executor.read_report(anomalies.uri) if anomalies else {}
  return drift_block(report)


def drift_block(report: Dict[str, Any]) -> Dict[str, Any]:
  """run_summary.json's `drift`: DriftCheck's report and a line per drifted feature."""
  return {**report, "lines": drift_executor.drift_lines(report)} if report else {}


def regression(metrics: Dict[str, Any], pushed_path: Optional[str]) -> Optional[float]:
  """By how much a pushed model is less accurate than its baseline on the same split (a
  negative --change-threshold allows it), else None."""
  change = (metrics.get("baseline") or {}).get("accuracy_change")
  return change if pushed_path and change is not None and change < 0 else None


def _data_dir(config, example_gen) -> Optional[str]:
  """--data-dir as given when it has a span pattern (ImageExampleGen's execution records the
  span folder it resolved), else the folder ImageExampleGen read."""
  if config.data_dir and has_spec(config.data_dir):
    return config.data_dir
  properties = example_gen.custom_properties if example_gen else {}
  return properties["input_base"].string_value if "input_base" in properties else config.data_dir


def gate_split(splits: Dict[str, Any]) -> str:
  """The split the Evaluator gates on: test when there is one, else eval."""
  return "test" if "test" in splits else "eval"


def collect(
  config, metadata_path: Optional[str] = None, run_id: Optional[str] = None, record=None
) -> Dict[str, Any]:
  """Builds the run summary of run `run_id` (default: the latest) of config.pipeline_name, read
  from MLMD, or from `record` (anything with RunRecord's output, input, executions, run_id,
  stage_seconds and states: tools.spec_runner's record of a compiled spec's run)."""
  if record is None:
    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = metadata_path or config.metadata_path
    connection.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    record = RunRecord(metadata_store.MetadataStore(connection), config.pipeline_name, run_id)

  examples = record.output("ImageExampleGen", "examples")
  with tf.io.gfile.GFile(os.path.join(examples.uri, REPORT_FILE)) as f:
    ingest = json.load(f)
  transform_graph = record.output("Transform", "transform_graph")
  class_names = (
    [c.decode() for c in tft.TFTransformOutput(transform_graph.uri).vocabulary_by_name(LABEL_VOCAB)]
    if transform_graph
    else []
  )
  evaluation = record.output("Evaluator", "evaluation")
  blessing = record.output("Evaluator", "blessing")
  pushed = record.output("ServingPusher", "pushed_model")
  serving_report = _serving_check(record.output("ServingCheck", "blessing"))
  anomalies = record.output("ExampleValidator", "anomalies")
  model_run = record.output("Trainer", "model_run")
  model = record.output("Trainer", "model")
  blessed = _int_property(blessing, "blessed") == 1
  split = gate_split(ingest["splits"])
  baseline = record.input("Evaluator", "baseline_model")
  metrics = (
    evaluation_metrics(evaluation.uri, class_names, baseline.uri if baseline else None)
    if evaluation
    else {}
  )
  if metrics:
    metrics["split"] = split
  bounds = (
    thresholds(evaluation.uri)
    if evaluation
    else {
      "accuracy": config.accuracy_threshold,
      "min_class_recall": config.min_class_recall,
      "min_class_precision": config.min_class_precision,
      "change": config.change_threshold,
    }
  )
  gated = bounds["min_class_recall"] > 0 or bounds["min_class_precision"] > 0
  example_gen = record.executions.get("ImageExampleGen")
  data_dir = _data_dir(config, example_gen)
  pushed_block = _pushed(pushed)
  return {
    "pipeline_name": config.pipeline_name,
    "run_id": record.run_id,
    "data_dir": data_dir,
    "images_found": ingest["images_found"],
    "images_ingested": ingest["images_ingested"],
    "images_rejected": ingest["images_rejected"],
    "rejected_files": ingest["rejected_files"],
    "skipped_folders": ingest.get("skipped_folders", []),
    "span": ingest.get("span"),
    "spans": window_spans(record, ingest.get("span")),
    "drift": drift(record),
    "splits": {name: split["written"] for name, split in ingest["splits"].items()},
    "split_details": ingest["splits"],
    "data_warnings": ingest.get("warnings", []),
    "classes": class_names,
    "metrics": metrics,
    "metric_warnings": class_metrics.warnings(metrics.get("per_class", {}), gated, split),
    "thresholds": bounds,
    "failed_gates": (
      (_failed_gates(evaluation.uri, class_names) if evaluation else [])
      + _serving_failures(serving_report)
    ),
    "serving_check": serving_report,
    "anomalies": _anomalies(anomalies.uri) if anomalies else {},
    "training": _training(model_run.uri) if model_run else {},
    "model_path": model.uri if model else None,
    "examples_path": examples.uri,  # ImageExampleGen's output (the report's Grad-CAM pages)
    "blessed": blessed,
    **pushed_block,
    "pushed_regression": regression(metrics, pushed_block["pushed_model_path"]),
    "tflite": _tflite(record.output("TFLiteExport", "tflite_model"), pushed),
    "stage_seconds": record.stage_seconds(),
    "stage_states": record.states(),
  }


def input_error(exc: Optional[BaseException]) -> Optional[Exception]:
  """The input problem behind an exception a stage raised (bad data found at run time), if any.

  ImageExampleGen's executor and driver raise InputErrors (IngestError carries the ingest
  report); LocalDagRunner re-raises them as they are, but one may also come as the cause or
  context of another exception.
  """
  from pipeline.configs import ConfigError  # pylint: disable=import-outside-toplevel

  return _behind(exc, (InputError, ConfigError))


def drift_blocked(exc: Optional[BaseException]) -> Optional[drift_executor.DriftBlocked]:
  """The blocking drift behind an exception a stage raised (DriftCheck with --on-drift
  block), if any."""
  return _behind(exc, (drift_executor.DriftBlocked,))


def _behind(exc: Optional[BaseException], kinds: tuple):
  """The first exception of `kinds` in exc's chain (itself, its cause or context), or None."""
  seen = set()
  while exc is not None and id(exc) not in seen:
    if isinstance(exc, kinds):
      return exc
    seen.add(id(exc))
    exc = exc.__cause__ or exc.__context__
  return None


def add_drift_block(result: Dict[str, Any], report: Dict[str, Any]) -> Dict[str, Any]:
  """A run that DriftCheck stopped: its drift, each drifted feature a failed gate, not
  blessed."""
  result["drift"] = drift_block(report)
  result["failed_gates"] = [
    f"drift: {line} (--on-drift block)" for line in result["drift"]["lines"]
  ] + result["failed_gates"]
  result["blessed"] = False
  return result


def input_error_summary(config, error: Exception) -> Dict[str, Any]:
  """run_summary.json of a run stopped by bad input: the counts found so far and the error."""
  ingest = getattr(error, "report", None) or {}
  return {
    "pipeline_name": config.pipeline_name,
    "data_dir": config.data_dir,
    "error": str(error),
    "images_found": ingest.get("images_found", 0),
    "images_ingested": ingest.get("images_ingested", 0),
    "images_rejected": ingest.get("images_rejected", {}),
    "rejected_files": ingest.get("rejected_files", []),
    "skipped_folders": ingest.get("skipped_folders", []),
    "span": ingest.get("span"),
    "splits": {name: split["written"] for name, split in ingest.get("splits", {}).items()},
    "split_details": ingest.get("splits", {}),
    "data_warnings": ingest.get("warnings", []),
    "classes": ingest.get("classes", []),
    "metrics": {},
    "failed_gates": [],
    "blessed": False,
    "pushed_model_path": None,
    "pushed_version": None,
  }


def format_summary(summary: Dict[str, Any]) -> str:
  """A few lines for people."""
  rejected = ", ".join(f"{n} {r}" for r, n in summary["images_rejected"].items()) or "none"
  metrics = summary["metrics"]
  lines = [
    f"Pipeline {summary['pipeline_name']} (run {summary['run_id']})",
    f"  images: {summary['images_found']} found, {summary['images_ingested']} ingested, "
    f"rejected: {rejected}",
    "  splits: " + ", ".join(f"{k} {v}" for k, v in summary["splits"].items()),
  ]
  if summary.get("span") is not None:
    lines.append(schedule.span_line(summary))
  lines += schedule.drift_summary_lines(summary.get("drift") or {})
  if metrics.get("accuracy") is not None:
    split = metrics.get("split", "eval")
    lines.append(
      f"  {split} accuracy: {metrics['accuracy']:.4f} on {metrics['examples']} images "
      f"(threshold {summary['thresholds']['accuracy']})"
    )
    for metric in ("recall", "precision"):
      name, worst = min(metrics["per_class"].items(), key=lambda kv: kv[1].get(metric) or 0.0)
      interval = worst.get(metric + "_95ci")
      basis = (
        f"{worst['images']} images" if metric == "recall" else f"{worst.get('predicted')} predicted"
      )
      lines.append(
        f"  lowest class {metric} (top-1): {name} {worst.get(metric) or 0.0:.4f}"
        + (f" (95 % {interval[0]:.2f}-{interval[1]:.2f} of {basis})" if interval else "")
        + (", never predicted" if metric == "precision" and worst.get("never_predicted") else "")
        + f"; threshold {summary['thresholds']['min_class_' + metric]}"
      )
    baseline, skipped = metrics.get("baseline"), metrics.get("baseline_skipped")
    if baseline:
      lines.append(
        f"  baseline (last blessed model) accuracy: {baseline['accuracy']:.4f}, "
        f"change {baseline['accuracy_change']:+.4f} "
        f"(allowed {summary['thresholds']['change']:+})"
      )
    elif skipped:
      lines.append(
        f"  baseline comparison skipped: the last blessed model's classes differ "
        f"({skipped['reason']})"
      )
    else:
      lines.append("  baseline: none yet (first blessed model decides on thresholds only)")
  training = summary.get("training") or {}
  if training:
    lines.append(
      f"  training: {training['epochs']} epochs, {training['train_seconds']} s, "
      f"{training['images_per_second']:.0f} images/s"
    )
    if training.get("warm_start"):
      lines.append("  " + schedule.warm_start_text(training["warm_start"]))
    if training.get("settings"):
      lines.append(f"  settings: {settings_line(training['settings'])}")
  for warning in summary["data_warnings"]:
    lines.append(f"  data warning: {warning}")
  for split, features in summary["anomalies"].items():
    for feature, description in features.items():
      lines.append(f"  data anomaly in {split}: {feature}: {description}")
  for warning in summary.get("metric_warnings", []):
    lines.append(f"  metric warning: {warning}")
  for failure in summary["failed_gates"]:
    lines.append(f"  failed gate: {failure}")
  if summary.get("push_error"):
    lines.append(f"  push error: {summary['push_error']}")
  lines.append(
    f"  blessed: {'yes' if summary['blessed'] else 'no'}; pushed: "
    f"{summary['pushed_model_path'] or 'nothing'}"
  )
  if summary.get("pushed_regression") is not None:
    lines.append(schedule.regression_line(summary))
  if format_tflite(summary.get("tflite") or {}):
    lines.append(format_tflite(summary["tflite"]))
  lines.append("  seconds: " + ", ".join(f"{k} {v}" for k, v in summary["stage_seconds"].items()))
  return "\n".join(lines)
