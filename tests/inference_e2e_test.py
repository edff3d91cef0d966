"""Batch inference (--infer-dir) with LocalDagRunner: TFX's BulkInferrer on 500 unlabelled digit
scans and two bad files, checked against disk and against `python -m pipeline.predict` on the
same files; a second run whose model is not blessed scores nothing and says so."""

import csv
import glob
import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

from reporting import inference
from tests import images, runs, training

pytestmark = pytest.mark.e2e

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAGS = ("--image-size", "16", "--epochs", "1", "--min-class-recall", "0")
FLAGS += ("--min-class-precision", "0", "--warmup-requests", "2", "--export", "none")


def _read_csv(path):
  with open(path, newline="") as f:
    return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def blessed_run(tmp_path_factory):
  """A tiny model that the Evaluator blesses (accuracy threshold 0.1), with --infer-dir."""
  data_dir = training.digits_tree(str(tmp_path_factory.mktemp("data")), {d: 20 for d in range(10)})
  infer_dir = str(tmp_path_factory.mktemp("unlabelled"))
  scans = images.digit_files({d: 50 for d in range(10)}, skip=20)  # not the training scans
  files = {
    f"part{i % 3}/{os.path.basename(name)}": data for i, (name, data) in enumerate(scans.items())
  }
  files["broken.png"] = next(iter(scans.values()))[:40]  # cut short
  files["notes.txt"] = b"classify these"
  images.write_tree(infer_dir, files)
  output_dir = str(tmp_path_factory.mktemp("out"))
  result, summary = runs.run_local(
    data_dir,
    output_dir,
    "infer-e2e",
    "--infer-dir",
    infer_dir,
    "--accuracy-threshold",
    "0.1",
    *FLAGS,
  )
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  return data_dir, infer_dir, output_dir, result, summary


def test_bulk_inferrer_scores_every_good_file_and_rejects_the_bad_ones(blessed_run):
  _, infer_dir, output_dir, result, summary = blessed_run
  block = summary["inference"]
  assert block["status"] == "scored" and block["reason"] is None
  assert images.count_files(infer_dir) == 502 == block["images_found"]
  assert block["images_rejected"] == {"not_an_image": 1, "truncated_file": 1}
  assert block["images_scored"] == block["images_ingested"] == 500
  # The PredictionLogs on disk: one per good file.
  logs = glob.glob(os.path.join(block["prediction_logs"], inference.LOGS_PATTERN))
  assert logs and block["prediction_logs"].startswith(os.path.join(output_dir, "pipeline"))
  predictions = list(inference.read_prediction_logs(block["prediction_logs"]))
  assert len(predictions) == 500
  # The CSV: a row per file found, path order, rejected files with the ingestion's reason.
  assert block["csv"] == os.path.join(output_dir, "inference", "predictions.csv")
  rows = _read_csv(block["csv"])
  classes = [str(d) for d in range(10)]
  assert list(rows[0]) == inference.columns(classes)
  assert [r["path"] for r in rows] == sorted(
    os.path.relpath(os.path.join(d, n), infer_dir) for d, _, ns in os.walk(infer_dir) for n in ns
  )
  errors = {r["path"]: r["error"] for r in rows if r["error"]}
  assert errors == {"broken.png": "truncated_file", "notes.txt": "not_an_image"}
  for row in rows:
    if row["error"]:
      assert row["predicted_class"] == row["sha256"] == ""
      continue
    with open(os.path.join(infer_dir, row["path"]), "rb") as f:
      assert row["sha256"] == hashlib.sha256(f.read()).hexdigest()
    p = np.array([float(row[f"p_{c}"]) for c in classes])
    assert p.sum() == pytest.approx(1.0, abs=1e-4)
    assert row["predicted_class"] == classes[int(np.argmax(p))]
    assert float(row["top_probability"]) == pytest.approx(p.max())
  # What to label next: every scored file; nothing earlier to compare the predictions with.
  assert block["to_label_rows"] == 500 and os.path.isfile(block["to_label"])
  assert sum(block["predicted_classes"].values()) == 500
  assert block["prediction_drift"]["baseline"] is None
  line = (
    "  inference: 500 images scored, 2 rejected (1 not_an_image, 1 truncated_file); "
    f"predictions in {block['csv']}"
  )
  assert line in result.stdout.splitlines()
  # Its ingestion's lines are labelled as its stage, not as the training images' ImageExampleGen.
  assert "[InferenceExampleGen] found 502 files: 500 ingested, rejected: " in result.stdout
  assert not any(
    text.startswith("[ImageExampleGen]") and "502" in text for text in result.stdout.splitlines()
  )


def test_top1_matches_pipeline_predict_on_the_same_files(blessed_run, tmp_path):
  _, infer_dir, _, _, summary = blessed_run
  out = str(tmp_path / "predict.csv")
  done = subprocess.run(
    [
      sys.executable,
      "-m",
      "pipeline.predict",
      "--model",
      summary["pushed_model_path"],
      "--output",
      out,
      infer_dir,
    ],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert done.returncode == 1, done.stderr[-2000:]  # broken.png cannot be classified
  predicted = {os.path.relpath(r["path"], infer_dir): r for r in _read_csv(out)}
  bulk = {r["path"]: r for r in _read_csv(summary["inference"]["csv"]) if not r["error"]}
  assert set(bulk) == {p for p, r in predicted.items() if not r["error"]}
  assert predicted["broken.png"]["error"].startswith("truncated_file")
  assert [bulk[p]["predicted_class"] for p in sorted(bulk)] == [
    predicted[p]["predicted_class"] for p in sorted(bulk)
  ]
  for path in bulk:
    assert bulk[path]["sha256"] == predicted[path]["sha256"]
    assert float(bulk[path]["top_probability"]) == pytest.approx(
      float(predicted[path]["top_probability"]), abs=1e-5
    )


def test_a_model_that_is_not_blessed_scores_nothing_and_says_so(blessed_run):
  data_dir, infer_dir, output_dir, _, _ = blessed_run
  result, summary = runs.run_local(
    data_dir,
    output_dir,
    "infer-e2e",
    "--infer-dir",
    infer_dir,
    "--accuracy-threshold",
    "1.0",
    *FLAGS,
  )
  assert result.returncode == 3, result.stdout[-3000:] + result.stderr[-3000:]
  block = summary["inference"]
  assert (block["status"], block["reason"]) == ("skipped", "model not pushed")
  assert block["prediction_logs"] is None and block["csv"] is None
  assert block["images_found"] == 502
  assert (
    "  inference: skipped: model not pushed (502 images found, 2 rejected "
    "(1 not_an_image, 1 truncated_file))"
  ) in result.stdout.splitlines()
  # BulkInferrer ran and wrote nothing; the earlier run's CSV is not left to look like this one's.
  results = sorted(
    glob.glob(os.path.join(output_dir, "pipeline", "BulkInferrer", "*", "*")),
    key=lambda path: int(os.path.basename(path)),  # execution ids: the first run's first
  )
  assert len(results) == 2
  assert [bool(glob.glob(os.path.join(r, inference.LOGS_PATTERN))) for r in results] == [
    True,
    False,
  ]
  assert not os.path.exists(os.path.join(output_dir, "inference", "predictions.csv"))
  assert not os.path.exists(os.path.join(output_dir, "inference", "to_label.csv"))
  assert block["to_label"] is block["prediction_drift"] is None
