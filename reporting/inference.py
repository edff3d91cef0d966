"""Batch inference's outcome (--infer-dir): what InferenceExampleGen ingested and rejected, and
TFX's BulkInferrer PredictionLogs, as run_summary.json's `inference` block and as
`<output-dir>/inference/predictions.csv` and to_label.csv (reporting/to_label.py); the block's
predicted-class distribution is what prediction drift (reporting/prediction_drift.py) compares.

The CSV has the columns of `python -m pipeline.predict --output FILE.csv`: path (below the
--infer-dir folder, or as the manifest wrote it), sha256 (of the file's bytes), predicted_class,
top_probability, p_<class> per class in class-id order, error (the ingestion's rejection
reason; empty prediction fields then). One row per file found, in path order.
"""

import csv
import io
import os
import posixpath
import uuid
from typing import Any, Dict, Iterator, List, NamedTuple, Optional

from reporting import escape, to_label
from schemas import filenames, nodes
from schemas.features import PREDICTION_KEY

LOGS_PATTERN = "prediction_logs*"  # BulkInferrer's output files in its InferenceResult
NOT_PUSHED = "model not pushed"


class Prediction(NamedTuple):
  path: str
  sha256: str
  probabilities: List[float]
  class_names: List[str]


def read_prediction_logs(inference_uri: str) -> Iterator[Prediction]:
  """Each PredictionLog BulkInferrer wrote (bulk_inference: the request holds the ingested
  tf.Example, the response the probabilities and class names)."""
  import tensorflow as tf  # noqa: PLC0415  (TensorFlow: only with --infer-dir)
  from tensorflow_serving.apis import prediction_log_pb2  # noqa: PLC0415  (as above)

  from components.image_example_gen import records  # noqa: PLC0415  (as above)

  paths = sorted(tf.io.gfile.glob(posixpath.join(inference_uri, LOGS_PATTERN)))
  if not paths:
    return
  for record in tf.data.TFRecordDataset(paths, compression_type="GZIP"):
    log = prediction_log_pb2.PredictionLog.FromString(record.numpy()).predict_log
    (request,) = log.request.inputs.values()  # the signature's one input, one example
    example = records.parse(request.string_val[0])
    outputs = log.response.outputs
    yield Prediction(
      example.file_name,
      example.sha256,
      [float(p) for p in tf.make_ndarray(outputs[PREDICTION_KEY])[0]],
      [n.decode() for n in tf.make_ndarray(outputs["class_names"])[0]],
    )


def block(record, push: Dict[str, Any], ingest: Dict[str, Any]) -> Optional[Dict[str, Any]]:
  """run_summary.json's `inference`, from the run's record, its push (readers.pushed_model:
  only a pushed model's predictions count) and InferenceExampleGen's ingest report; None for
  a run without --infer-dir."""
  examples = record.output(nodes.INFERENCE_EXAMPLE_GEN, "examples")
  if examples is None:
    return None
  result = record.output(nodes.BULK_INFERRER, "inference_result")
  pushed = bool(push.get("pushed_model_path"))
  scored = pushed and result is not None and _wrote_predictions(result)
  return {
    "status": "scored" if scored else "skipped",
    "reason": None if scored else (NOT_PUSHED if not pushed else "BulkInferrer did not run"),
    "images_found": ingest.get("images_found", 0),
    "images_ingested": ingest.get("images_ingested", 0),
    "images_scored": None,  # counted from the PredictionLogs when the CSV is written
    "images_rejected": ingest.get("images_rejected", {}),
    "rejected_files": [
      {"path": r["path"], "reason": r["reason"]} for r in ingest.get("rejected_files", [])
    ],
    "prediction_logs": result.uri if scored else None,
    "csv": None,
    "root": ingest.get("root"),  # the folder or manifest the paths are below
    # Filled in when the CSVs are written (write_csv) and compared (prediction_drift.py).
    "to_label": None,
    "to_label_rows": None,
    "predicted_classes": None,
    "mean_top_probability": None,
    "prediction_drift": None,
  }


def _wrote_predictions(result) -> bool:
  """Whether BulkInferrer wrote predictions (it writes none for a model it did not score)."""
  import tensorflow as tf  # noqa: PLC0415  (TensorFlow: only with --infer-dir)

  return bool(tf.io.gfile.glob(posixpath.join(result.uri, LOGS_PATTERN)))


def columns(class_names: List[str]) -> List[str]:
  """The CSV's columns, also pipeline.predict --output's: path, sha256, predicted_class,
  top_probability, p_<class> in class-id order, error."""
  return [
    "path",
    "sha256",
    "predicted_class",
    "top_probability",
    *(f"p_{name}" for name in class_names),
    "error",
  ]


def csv_text(predictions: List[Prediction], rejected: List[Dict[str, Any]]) -> str:
  """The CSV: a header, then every scored and rejected file in path order (text that a
  spreadsheet would run as a formula neutralised: escape.csv_cell)."""
  from components.scoring import top_k  # noqa: PLC0415  (TensorFlow: only with --infer-dir)

  class_names = predictions[0].class_names if predictions else []
  tops = [top_k(p.probabilities, 1)[0] for p in predictions]
  rows = [
    [p.path, p.sha256, p.class_names[top], p.probabilities[top], *p.probabilities, ""]
    for p, top in zip(predictions, tops)
  ] + [[r["path"], "", "", "", *([""] * len(class_names)), r["reason"]] for r in rejected]
  out = io.StringIO()
  writer = csv.writer(out, lineterminator="\n")
  writer.writerow(escape.csv_row(columns(class_names)))
  writer.writerows(escape.csv_row(row) for row in sorted(rows, key=lambda row: row[0]))
  return out.getvalue()


def distribution(predictions: List[Prediction]) -> Dict[str, Any]:
  """How many files each class got (every class, in class-id order) and the mean top
  probability: what the next run's prediction drift compares with."""
  class_names = predictions[0].class_names if predictions else []
  counts = dict.fromkeys(class_names, 0)
  for p in predictions:
    counts[p.class_names[max(range(len(p.probabilities)), key=p.probabilities.__getitem__)]] += 1
  mean_top = sum(max(p.probabilities) for p in predictions) / max(len(predictions), 1)
  return {"predicted_classes": counts, "mean_top_probability": round(mean_top, 6)}


def _write(path: str, text: str) -> None:
  """Written beside, then renamed over: never half a file."""
  import tensorflow as tf  # noqa: PLC0415  (TensorFlow: only with --infer-dir)

  tf.io.gfile.makedirs(os.path.dirname(path))
  partial = f"{path}.{uuid.uuid4().hex}.partial"
  with tf.io.gfile.GFile(partial, "w") as f:
    f.write(text)
  tf.io.gfile.rename(partial, path, overwrite=True)


def write_csv(
  summary_block: Dict[str, Any], output_dir: str, label_budget: int = 0
) -> Dict[str, Any]:
  """Writes <output_dir>/inference/predictions.csv and to_label.csv (its first `label_budget`
  rows; 0: all) from the block's PredictionLogs, and fills in their paths and the counts. A
  run that scored nothing removes an earlier run's files."""
  import tensorflow as tf  # noqa: PLC0415  (TensorFlow: only with --infer-dir)

  folder = os.path.join(output_dir, filenames.INFERENCE_DIR)
  path = os.path.join(folder, filenames.PREDICTIONS_CSV)
  queue = os.path.join(folder, filenames.TO_LABEL_CSV)
  if summary_block.get("status") != "scored":
    for earlier in (path, queue):
      if tf.io.gfile.exists(earlier):  # an earlier run's: never taken for this run's
        tf.io.gfile.remove(earlier)
    return summary_block
  predictions = list(read_prediction_logs(summary_block["prediction_logs"]))
  _write(path, csv_text(predictions, summary_block["rejected_files"]))
  rows = to_label.rows(predictions, summary_block.get("root"), label_budget)
  _write(queue, to_label.csv_text(rows))
  return dict(
    summary_block,
    images_scored=len(predictions),
    csv=path,
    to_label=queue,
    to_label_rows=len(rows),
    **distribution(predictions),
  )


def console_line(summary_block: Dict[str, Any]) -> str:
  """'inference: 500 images scored, 1 rejected (1 not_an_image); predictions in PATH', or
  'inference: skipped: model not blessed (501 images found)'."""
  rejected = summary_block["images_rejected"]
  counts = (
    f"{sum(rejected.values())} rejected ("
    + ", ".join(f"{n} {reason}" for reason, n in rejected.items())
    + ")"
    if rejected
    else "none rejected"
  )
  if summary_block["status"] != "scored":
    return (
      f"inference: skipped: {summary_block['reason']} "
      f"({summary_block['images_found']} images found, {counts})"
    )
  scored = summary_block["images_scored"]
  where = escape.one_line(summary_block["csv"] or summary_block["prediction_logs"])
  return (
    f"inference: {summary_block['images_ingested'] if scored is None else scored} images "
    f"scored, {counts}; predictions in {where}"
  )


def to_label_line(summary_block: Dict[str, Any]) -> Optional[str]:
  """'to label next: 500 files, least confident first, in PATH', or None (nothing scored)."""
  if not summary_block.get("to_label"):
    return None
  return (
    f"to label next: {summary_block['to_label_rows']} files, least confident first, in "
    f"{escape.one_line(summary_block['to_label'])}"
  )
