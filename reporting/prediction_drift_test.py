"""Drift in what the model predicts: the distances against SciPy's and NumPy's, the previous
inference run found among the output dir's records, and the console line. (Two real inference
runs with different class mixes: tests/data_centric_e2e_test.py.)"""

import json

import numpy as np
import pytest
from scipy.spatial import distance

from reporting import prediction_drift
from reporting.prediction_drift import PredictionDriftThresholds

CLASSES = ["cat", "dog", "fox"]


def _block(counts, mean_top=0.9):
  return {
    "status": "scored",
    "images_scored": sum(counts.values()),
    "predicted_classes": counts,
    "mean_top_probability": mean_top,
  }


def _record(run_id, finished_at, block):
  return {"run_id": run_id, "finished_at": finished_at, "inference": block}


def test_distances_agree_with_scipy_and_numpy():
  now, then = {"cat": 10, "dog": 30, "fox": 60}, {"cat": 50, "dog": 30, "fox": 20}
  drift = prediction_drift.compare(
    _block(now, 0.80), _record("r1", "t1", _block(then, 0.92)), PredictionDriftThresholds()
  )
  p, q = np.array([0.1, 0.3, 0.6]), np.array([0.5, 0.3, 0.2])
  assert drift["l_infinity"]["distance"] == pytest.approx(np.max(np.abs(p - q)))
  assert drift["l_infinity"]["class"] == "cat"  # the first of the classes that moved most
  assert (drift["l_infinity"]["share"], drift["l_infinity"]["previous_share"]) == (0.1, 0.5)
  # SciPy's is the Jensen-Shannon distance, the divergence's square root.
  expected = distance.jensenshannon(p, q, base=2) ** 2
  assert drift["jensen_shannon"]["distance"] == pytest.approx(expected, abs=1e-4)
  assert drift["mean_top_probability"]["change"] == pytest.approx(-0.12)
  assert drift["drifted"] == ["l_infinity", "jensen_shannon", "mean_top_probability"]
  assert drift["baseline"] == {"run_id": "r1", "finished_at": "t1", "images_scored": 100}


def test_the_same_mix_does_not_drift_and_a_zero_threshold_checks_nothing():
  counts = {"cat": 20, "dog": 30, "fox": 50}
  same = prediction_drift.compare(
    _block(counts), _record("r1", "t1", _block(counts)), PredictionDriftThresholds()
  )
  assert same["l_infinity"]["distance"] == same["jensen_shannon"]["distance"] == 0.0
  assert same["drifted"] == []
  moved = prediction_drift.compare(
    _block({"cat": 100}),
    _record("r1", "t1", _block(counts, 0.5)),
    PredictionDriftThresholds(0.0, 0.0, 0.0),
  )
  assert moved["drifted"] == [] and moved["l_infinity"]["threshold"] == 0.0


def test_classes_only_one_run_predicted_count_as_zero_in_the_other():
  drift = prediction_drift.compare(
    _block({"cat": 5, "dog": 5}),
    _record("r1", "t1", _block({"cat": 5, "fox": 5})),
    PredictionDriftThresholds(),
  )
  assert drift["jensen_shannon"]["distance"] == pytest.approx(0.5)  # half the mass disjoint
  assert drift["l_infinity"]["distance"] == 0.5


def test_the_previous_run_is_the_newest_other_record_that_scored_images(tmp_path):
  runs = tmp_path / "runs"
  runs.mkdir()
  assert prediction_drift.previous_run(str(tmp_path), "now") is None
  records = {
    "a.json": _record("a", "2026-01-01T00:00:00", _block({"cat": 1})),
    "b.json": _record("b", "2026-01-03T00:00:00", _block({"dog": 1})),
    # newer, but scored nothing (its model was not pushed), or had no --infer-dir
    "c.json": _record("c", "2026-01-04T00:00:00", {"status": "skipped"}),
    "d.json": _record("d", "2026-01-05T00:00:00", None),
    "now.json": _record("now", "2026-01-06T00:00:00", _block({"fox": 1})),  # this run's own
  }
  for name, record in records.items():
    (runs / name).write_text(json.dumps(record))
  (runs / "e.json").write_text('{"run_id": "e", "inference": {"sta')  # cut short
  (runs / "notes.txt").write_text("not a record")
  assert prediction_drift.previous_run(str(tmp_path), "now")["run_id"] == "b"


def test_the_console_line_names_each_measure_and_its_bound():
  first = prediction_drift.compare(_block({"cat": 1}), None, PredictionDriftThresholds())
  assert prediction_drift.console_line(first) == (
    "prediction drift: nothing to compare with (no earlier inference run in this output dir)"
  )
  drifted = prediction_drift.compare(
    _block({"cat": 10, "dog": 30, "fox\nx": 60}, 0.80),
    _record("run-1", "t1", _block({"cat": 50, "dog": 30, "fox\nx": 20}, 0.82)),
    PredictionDriftThresholds(0.1, 0.0, 0.05),
  )
  assert prediction_drift.console_line(drifted) == (
    "prediction drift against run run-1: predicted classes: L-infinity 0.4000 > 0.1 (class cat "
    "0.10, was 0.50), Jensen-Shannon 0.1805 not checked; mean top probability 0.8000, was "
    "0.8200 (change -0.0200, <= 0.05)"
  )
  calm = prediction_drift.compare(
    _block({"cat": 1}), _record("run-1", "t1", _block({"cat": 1})), PredictionDriftThresholds()
  )
  assert prediction_drift.console_line(calm).startswith("prediction drift: none against run run-1")
