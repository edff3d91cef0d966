"""What each component of a run wrote, read back for the run record: the ingest report, the
spans trained on, drift, anomalies, the training log and settings, the serving check, the push
(checked on disk) and the exports (TFLite, ONNX). One reader per component output; the record's
artifacts are MLMD Artifacts (see reporting/executions.py)."""

import json
import os
import statistics
from typing import Any, Dict, List, Optional

import tensorflow as tf

from components.drift_check import executor as drift_executor
from components.image_example_gen.spans import has_spec
from components.tflite_export import executor as tflite_executor
from schemas import filenames, nodes, properties
from schemas.features import ENSEMBLE_MEMBER_PREFIX, LABEL_VOCAB
from schemas.filenames import TRAINING_LOG, TRAINING_SETTINGS


def int_property(artifact, name: str) -> Optional[int]:
  if artifact is None or name not in artifact.custom_properties:
    return None
  return artifact.custom_properties[name].int_value


def string_property(artifact, name: str) -> Optional[str]:
  if artifact is None or name not in artifact.custom_properties:
    return None
  return artifact.custom_properties[name].string_value


def data_dir(given: Optional[str], example_gen) -> Optional[str]:
  """--data-dir as given when it has a span pattern (ImageExampleGen's execution records the
  span folder it resolved), else the folder ImageExampleGen read."""
  if given and has_spec(given):
    return given
  properties = example_gen.custom_properties if example_gen else {}
  return properties["input_base"].string_value if "input_base" in properties else given


def class_names(transform_graph_uri: str) -> List[str]:
  """Class names in id order: Transform's label vocabulary."""
  import tensorflow_transform as tft  # noqa: PLC0415  (TFT loads TensorFlow's ops: only here)

  output = tft.TFTransformOutput(transform_graph_uri)
  return [c.decode() for c in output.vocabulary_by_name(LABEL_VOCAB)]


def ingest_report(examples) -> Dict[str, Any]:
  """ImageExampleGen's ingest report: counts, splits, rejections, warnings, span."""
  with tf.io.gfile.GFile(os.path.join(examples.uri, filenames.INGEST_REPORT)) as f:
    return json.load(f)


def serving_check(blessing) -> Dict[str, Any]:
  """The ServingCheck's report: blessed, requests sent, or why it failed."""
  if blessing is None:
    return {}
  with tf.io.gfile.GFile(os.path.join(blessing.uri, filenames.SERVING_CHECK_REPORT)) as f:
    return json.load(f)


def serving_failures(report: Dict[str, Any]) -> List[str]:
  return [f"serving check: {report['reason']}"] if report and not report["blessed"] else []


def anomalies(anomalies_uri: str) -> Dict[str, Dict[str, str]]:
  """split -> feature -> ExampleValidator's description, from SchemaDiff.pb per split."""
  from tensorflow_data_validation.utils import anomalies_util  # noqa: PLC0415  (TFMA/TFDV/TFT: loaded when used)

  result = {}
  for split_dir in sorted(tf.io.gfile.glob(os.path.join(anomalies_uri, "Split-*"))):
    anomalies = anomalies_util.load_anomalies_binary(os.path.join(split_dir, "SchemaDiff.pb"))
    result[os.path.basename(split_dir)[len("Split-") :]] = {
      feature: info.short_description or info.description
      for feature, info in sorted(anomalies.anomaly_info.items())
    }
  return result


def training(model_run_uri: str) -> Dict[str, Any]:
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
  members = {}
  for epoch in epochs:  # an ensemble's members log phases member_<i>_train, member_<i>_fine_tune
    if epoch.get("phase", "").startswith(ENSEMBLE_MEMBER_PREFIX):
      member = int(epoch["phase"][len(ENSEMBLE_MEMBER_PREFIX) :].split("_")[0])
      members[member] = members.get(member, 0) + 1
  return {
    "epochs": len(epochs),
    "member_epochs": [members[m] for m in sorted(members)] or None,
    "train_seconds": round(sum(e["train_seconds"] for e in epochs), 1),
    "images_per_second": round(statistics.median(e["images_per_second"] for e in epochs)),
    "warm_start": settings.get("warm_start"),
    "settings": settings,
    "epoch_log": epochs,
  }


def pushed_model(pushed) -> Dict[str, Any]:
  """Where the Pusher put the model, checked on disk, and whether it wrote a new version (not
  when the model is the one already served): a claimed version that is not there is reported
  as a push error, never as a push."""
  if int_property(pushed, properties.PUSHED) != 1:
    return {"pushed_model_path": None, "pushed_version": None, "new_version": False}
  path = pushed.custom_properties[properties.PUSHED_DESTINATION].string_value
  if not tf.io.gfile.exists(os.path.join(path, filenames.SAVED_MODEL)):
    return {
      "pushed_model_path": None,
      "pushed_version": None,
      "new_version": False,
      "push_error": f"the Pusher reported {path}, which holds no SavedModel",
    }
  return {
    "pushed_model_path": path,
    "pushed_version": pushed.custom_properties[properties.PUSHED_VERSION].string_value,
    "new_version": int_property(pushed, properties.NEW_VERSION) != 0,  # absent: an older Pusher's
  }


def baseline_comparison(evaluation) -> Dict[str, Any]:
  """The Evaluator's account of its baseline (components/evaluator/executor.py), {} when it
  did not run."""
  if evaluation is None:
    return {}
  path = os.path.join(evaluation.uri, filenames.BASELINE_COMPARISON)
  if not tf.io.gfile.exists(path):
    return {}
  with tf.io.gfile.GFile(path) as f:
    return json.load(f)


def export_block(export, pushed, fmt: str) -> Dict[str, Any]:
  """An export format's parity figures and sizes, and its pushed folder (its files checked on
  disk), or why nothing was pushed; {} when the format was not asked for. TFLite's figures are
  per model (`int8`, `float16`); ONNX's one model's are the block's own."""
  report = tflite_executor.read_report(export.uri, fmt) if export is not None else None
  if report is None:
    return {}
  kinds = tflite_executor.FOLDERS[fmt].KINDS
  block = {
    "passed": report["passed"],
    "reason": report.get("reason") or None,
    "path": None,
    **{
      k: report[k]
      for k in ("split", "images", "saved_model", "bounds", "opset", *kinds)
      if k in report
    },
  }
  if int_property(pushed, properties.PUSHED) != 1:
    block["reason"] = block["reason"] or "the model was not pushed"
  elif int_property(pushed, properties.pushed_format(fmt)) == 1:
    path = os.path.join(pushed.custom_properties[properties.PUSHED_DESTINATION].string_value, fmt)
    names = [report[k]["file"] for k in kinds] + [
      filenames.TFLITE_LABELS,
      filenames.TFLITE_CONTRACT,
    ]
    missing = [n for n in names if not tf.io.gfile.exists(os.path.join(path, n))]
    if missing:
      block["push_error"] = f"{path} lacks {', '.join(missing)}"
    else:
      block["path"] = path
  if kinds == (fmt,) and fmt in block:  # one model: its figures are the block's
    block.update(block.pop(fmt))
  return block


def window_spans(record, span: Optional[int]) -> List[int]:
  """The spans Transform and the Trainer had (the span window), newest first: ImageExampleGen's
  `span` of each Examples artifact the run's Transform read; [span] when the record does not
  list them (a compiled spec's run, whose window is one span)."""
  artifacts = record.input_list(nodes.TRANSFORM, "examples")
  spans = sorted({int_property(a, "span") for a in artifacts} - {None}, reverse=True)
  return spans or ([span] if span is not None else [])


def drift(record) -> Dict[str, Any]:
  """DriftCheck's report (drift.json) with its console lines, or {} when it did not run."""
  anomalies = record.output(nodes.DRIFT_CHECK, "anomalies")
  report = drift_executor.read_report(anomalies.uri) if anomalies else {}
  return drift_block(report)


def drift_block(report: Dict[str, Any]) -> Dict[str, Any]:
  """run_summary.json's `drift`: DriftCheck's report and a line per drifted feature."""
  return {**report, "lines": drift_executor.drift_lines(report)} if report else {}
