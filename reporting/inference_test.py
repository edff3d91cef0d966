"""Batch inference's CSV text, summary block and console line (BulkInferrer on real images,
compared with pipeline.predict: tests/inference_e2e_test.py)."""

import csv
import io

from reporting import console_text, inference


def _predictions():
  names = ["cat", 'a "quoted", name']
  return [
    inference.Prediction("b/2,3.png", "b" * 64, [0.25, 0.75], names),
    inference.Prediction("a/1.png", "a" * 64, [0.9, 0.1], names),
  ]


def test_the_csv_has_predicts_columns_and_a_row_per_file_scored_or_rejected_in_path_order():
  rejected = [{"path": "a/0.png", "reason": "truncated_file"}]
  rows = list(csv.reader(io.StringIO(inference.csv_text(_predictions(), rejected))))
  assert rows == [
    [
      "path",
      "sha256",
      "predicted_class",
      "top_probability",
      "p_cat",
      'p_a "quoted", name',
      "error",
    ],
    ["a/0.png", "", "", "", "", "", "truncated_file"],
    ["a/1.png", "a" * 64, "cat", "0.9", "0.9", "0.1", ""],
    ["b/2,3.png", "b" * 64, 'a "quoted", name', "0.75", "0.25", "0.75", ""],
  ]


class _Record:
  def __init__(self, **outputs):
    self._outputs = outputs

  def output(self, node, key):
    return self._outputs.get(f"{node}.{key}")


class _Artifact:
  uri = "/out/pipeline/BulkInferrer/inference_result/7"


INGEST = {
  "images_found": 3,
  "images_ingested": 2,
  "images_rejected": {"not_an_image": 1},
  "rejected_files": [{"path": "x.png", "split": "infer", "class": "", "reason": "not_an_image"}],
}


def test_a_model_that_is_not_blessed_scores_nothing_and_the_console_says_why():
  record = _Record(
    **{"InferenceExampleGen.examples": _Artifact(), "BulkInferrer.inference_result": _Artifact()}
  )
  block = inference.block(record, blessed=False, ingest=INGEST)
  assert (block["status"], block["reason"], block["prediction_logs"]) == (
    "skipped",
    "model not blessed",
    None,
  )
  assert block["rejected_files"] == [{"path": "x.png", "reason": "not_an_image"}]
  assert inference.write_csv(block, "/nowhere") is block  # nothing written
  assert inference.console_line(block) == (
    "  inference: skipped: model not blessed (3 images found, 1 rejected (1 not_an_image))"
  )
  assert inference.block(_Record(), blessed=True, ingest=INGEST) is None  # no --infer-dir


def test_a_scored_block_names_its_csv_on_the_console():
  record = _Record(
    **{"InferenceExampleGen.examples": _Artifact(), "BulkInferrer.inference_result": _Artifact()}
  )
  block = dict(
    inference.block(record, blessed=True, ingest=INGEST),
    images_scored=2,
    csv="/out/inference/predictions.csv",
  )
  assert block["prediction_logs"] == _Artifact.uri
  line = inference.console_line(block)
  assert line == (
    "  inference: 2 images scored, 1 rejected (1 not_an_image); "
    "predictions in /out/inference/predictions.csv"
  )
  assert line in console_text.format_summary(_summary(block)).splitlines()


def _summary(block):
  return {
    "pipeline_name": "p",
    "run_id": "r",
    "images_found": 1,
    "images_ingested": 1,
    "images_rejected": {},
    "splits": {},
    "metrics": {},
    "data_warnings": [],
    "anomalies": {},
    "failed_gates": [],
    "blessed": True,
    "pushed_model_path": "/out/serving_model/1",
    "stage_seconds": {},
    "inference": block,
  }


def test_a_run_that_scored_nothing_removes_an_earlier_runs_csv(tmp_path):
  stale = tmp_path / inference.FOLDER / inference.FILE
  stale.parent.mkdir()
  stale.write_text("path\nold.png\n")
  block = inference.block(_Record(**{"InferenceExampleGen.examples": _Artifact()}), True, INGEST)
  assert (block["status"], block["reason"]) == ("skipped", "BulkInferrer did not run")
  inference.write_csv(block, str(tmp_path))
  assert not stale.exists()
