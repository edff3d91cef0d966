"""Batch inference's CSV text, summary block and console line (BulkInferrer on real images,
compared with pipeline.predict: tests/inference_e2e_test.py)."""

import csv
import io

import pytest

from reporting import console_text, inference
from schemas import filenames
from schemas.run_record import RunRecord


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


def test_class_names_paths_and_reasons_a_spreadsheet_would_run_are_text():
  names = ["=1+1", "@cmd"]
  found = [
    inference.Prediction("+a.png", "a" * 64, [0.25, 0.75], names),
    inference.Prediction("b.png", "b" * 64, [0.5, 0.5], names),
  ]
  rejected = [{"path": "-c.png", "reason": "truncated_file"}]
  rows = list(csv.reader(io.StringIO(inference.csv_text(found, rejected))))
  assert rows == [
    ["path", "sha256", "predicted_class", "top_probability", "p_=1+1", "p_@cmd", "error"],
    ["'+a.png", "a" * 64, "'@cmd", "0.75", "0.25", "0.75", ""],
    ["'-c.png", "", "", "", "", "", "truncated_file"],  # sorted by the path, not the escape
    ["b.png", "b" * 64, "'=1+1", "0.5", "0.5", "0.5", ""],  # of equals, the first class
  ]


class _Record:
  def __init__(self, **outputs):
    self._outputs = outputs

  def output(self, node, key):
    return self._outputs.get(f"{node}.{key}")


class _Artifact:
  def __init__(self, uri="/out/pipeline/BulkInferrer/inference_result/7"):
    self.uri = uri


PUSHED = {"pushed_model_path": "/out/serving_model/1", "pushed_version": "1"}
NOT_PUSHED = {"pushed_model_path": None, "pushed_version": None}


INGEST = {
  "images_found": 3,
  "images_ingested": 2,
  "images_rejected": {"not_an_image": 1},
  "rejected_files": [{"path": "x.png", "split": "infer", "class": "", "reason": "not_an_image"}],
}


def test_a_model_that_was_not_pushed_scores_nothing_and_the_console_says_why(tmp_path):
  result = tmp_path / "inference_result"
  result.mkdir()
  (result / "prediction_logs-00000-of-00001.gz").write_bytes(b"")  # a blessed model's, say
  record = _Record(
    **{
      "InferenceExampleGen.examples": _Artifact(),
      "BulkInferrer.inference_result": _Artifact(str(result)),
    }
  )
  block = inference.block(record, NOT_PUSHED, ingest=INGEST)
  assert (block["status"], block["reason"], block["prediction_logs"]) == (
    "skipped",
    "model not pushed",
    None,
  )
  assert block["rejected_files"] == [{"path": "x.png", "reason": "not_an_image"}]
  assert inference.write_csv(block, "/nowhere") is block  # nothing written
  assert inference.console_line(block) == (
    "inference: skipped: model not pushed (3 images found, 1 rejected (1 not_an_image))"
  )
  assert inference.block(_Record(), PUSHED, ingest=INGEST) is None  # no --infer-dir


def test_a_scored_block_names_its_csv_on_the_console(tmp_path):
  (tmp_path / "prediction_logs-00000-of-00001.gz").write_bytes(b"")
  record = _Record(
    **{
      "InferenceExampleGen.examples": _Artifact(),
      "BulkInferrer.inference_result": _Artifact(str(tmp_path)),
    }
  )
  block = dict(
    inference.block(record, PUSHED, ingest=INGEST),
    images_scored=2,
    csv="/out/inference/predictions.csv",
  )
  assert block["prediction_logs"] == str(tmp_path)
  line = inference.console_line(block)
  assert line == (
    "inference: 2 images scored, 1 rejected (1 not_an_image); "
    "predictions in /out/inference/predictions.csv"
  )
  summary = RunRecord("p", "r", blessed=True, pushed_model_path="/out/s/1", inference=block)
  assert "  " + line in console_text.format_summary(summary).splitlines()


def test_a_run_that_scored_nothing_removes_an_earlier_runs_csvs(tmp_path):
  folder = tmp_path / filenames.INFERENCE_DIR
  folder.mkdir()
  stale = [folder / filenames.PREDICTIONS_CSV, folder / filenames.TO_LABEL_CSV]
  for path in stale:
    path.write_text("path\nold.png\n")
  block = inference.block(_Record(**{"InferenceExampleGen.examples": _Artifact()}), PUSHED, INGEST)
  assert (block["status"], block["reason"]) == ("skipped", "BulkInferrer did not run")
  inference.write_csv(block, str(tmp_path))
  assert not any(path.exists() for path in stale)
  assert block["to_label"] is block["prediction_drift"] is block["predicted_classes"] is None


def test_the_distribution_counts_every_class_and_the_mean_top_probability():
  found = _predictions() + [
    inference.Prediction("c.png", "c" * 64, [0.6, 0.4], _predictions()[0].class_names)
  ]
  assert inference.distribution(found) == {
    "predicted_classes": {"cat": 2, 'a "quoted", name': 1},
    "mean_top_probability": pytest.approx((0.75 + 0.9 + 0.6) / 3),
  }
  assert inference.distribution([]) == {"predicted_classes": {}, "mean_top_probability": 0.0}


def test_the_console_says_what_to_label_next_and_the_prediction_drift():
  block = {
    "status": "scored",
    "images_found": 3,
    "images_ingested": 3,
    "images_scored": 3,
    "images_rejected": {},
    "csv": "/out/inference/predictions.csv",
    "prediction_logs": "/logs",
    "to_label": "/out/inference/to_label.csv",
    "to_label_rows": 2,
    "prediction_drift": {"baseline": None, "reason": "no earlier inference run in this output dir"},
  }
  summary = RunRecord("p", "r", blessed=True, pushed_model_path="/out/s/1", inference=block)
  lines = console_text.format_summary(summary).splitlines()
  at = lines.index(
    "  inference: 3 images scored, none rejected; predictions in /out/inference/predictions.csv"
  )
  assert lines[at + 1 : at + 3] == [
    "  to label next: 2 files, least confident first, in /out/inference/to_label.csv",
    "  prediction drift: nothing to compare with (no earlier inference run in this output dir)",
  ]
  assert inference.to_label_line({**block, "to_label": None}) is None
