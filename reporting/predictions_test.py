"""predictions.csv's text and the summary's block, from a scored split (the scoring itself, on
a real model and images: tests/pipeline_e2e_test.py)."""

import csv
import io

import numpy as np

from reporting import build, console_text, predictions
from schemas.run_record import RunRecord


def _scored():
  names = ["cat", 'a "quoted", name', "two\nlines"]
  probabilities = np.array(
    [[0.7, 0.2, 0.1], [0.05, 0.9, 0.05], [0.6, 0.3, 0.1], [0.1, 0.15, 0.75], [0.2, 0.1, 0.7]]
  )
  return predictions.Scored(
    files=["cat/1.png", "q/2,3.png", "x/y\nz.png", "c/4.png", "u/5.png"],
    sha256=["a" * 64, "b" * 64, "c" * 64, "d" * 64, "e" * 64],
    labels=np.array([0, 1, 1, 2, -1]),  # the last: a class the model does not know
    probabilities=probabilities,
    class_names=names,
    split="eval",
  )


def test_the_csv_round_trips_hostile_names_and_paths():
  scored = _scored()
  rows = list(csv.reader(io.StringIO(predictions.csv_text(scored))))
  assert rows[0] == list(predictions.FIXED_COLUMNS) + [f"p_{n}" for n in scored.class_names]
  assert [r[0] for r in rows[1:]] == scored.files
  assert [r[3] for r in rows[1:]] == [
    "cat",
    'a "quoted", name',
    'a "quoted", name',
    "two\nlines",
    "",
  ]
  assert [r[4] for r in rows[1:]] == ["cat", 'a "quoted", name', "cat", "two\nlines", "two\nlines"]
  for row, probabilities in zip(rows[1:], scored.probabilities):
    assert [float(p) for p in row[6:]] == list(probabilities)
    assert float(row[5]) == probabilities.max()


def test_class_names_and_paths_a_spreadsheet_would_run_are_text_and_probabilities_numbers():
  names = ['=HYPERLINK("x")', "+SUM(1+1)", "-1", "@cmd"]
  scored = predictions.Scored(
    files=["=cmd|' /C calc'!A0.png", "-2.png", "ok.png"],
    sha256=["a" * 64, "b" * 64, "c" * 64],
    labels=np.array([0, 1, 3]),
    probabilities=np.array([[0.1, 0.6, 0.2, 0.1], [0.7, 0.1, 0.1, 0.1], [0.0, 0.0, 0.25, 0.75]]),
    class_names=names,
    split="test",
  )
  header, *rows = list(csv.reader(io.StringIO(predictions.csv_text(scored))))
  assert header[6:] == [f"p_{n}" for n in names]  # "p_" first: nothing to run
  assert [r[:5] for r in rows] == [
    ["'=cmd|' /C calc'!A0.png", "a" * 64, "test", '\'=HYPERLINK("x")', "'+SUM(1+1)"],
    ["'-2.png", "b" * 64, "test", "'+SUM(1+1)", '\'=HYPERLINK("x")'],
    ["ok.png", "c" * 64, "test", "'@cmd", "'@cmd"],
  ]
  assert [[float(v) for v in r[5:]] for r in rows] == [[p.max(), *p] for p in scored.probabilities]


def test_the_summary_names_the_most_confident_mistakes():
  block = predictions.summary_block(_scored())
  assert (block["images"], block["mistakes"], block["split"]) == (5, 2, "eval")
  assert block["most_confident_mistakes"] == [
    {"path": "u/5.png", "true_class": "", "predicted_class": "two\nlines", "probability": 0.7},
    {"path": "x/y\nz.png", "true_class": 'a "quoted", name', "predicted_class": "cat",
     "probability": 0.6},
  ]  # fmt: skip
  line = console_text.mistakes_line(block)
  assert "\n" not in line
  assert line == (
    "mistakes: 2 of 5 eval images, the most confident u/5.png (true , predicted two lines, "
    "0.70); every image in predictions.csv"
  )


def test_each_ensemble_member_is_scored_beside_the_ensemble_on_the_same_images():
  scored = _scored()
  first = np.eye(3)[[0, 1, 0, 2, 0]]  # right on 0, 1, 3: 3 of 5 (the last is never right)
  second = np.eye(3)[[1, 1, 1, 1, 1]]  # right on 1, 2: 2 of 5
  scored = scored._replace(members=np.stack([first, second]))
  assert predictions.member_accuracies(scored) == [0.6, 0.4]
  assert predictions.member_accuracies(_scored()) == []  # a single model
  record = RunRecord(
    "p",
    "r",
    metrics={"accuracy": 0.8, "split": "test"},
    training={
      "settings": {"ensemble": [{"model": "cnn", "seed": 4}, {"model": "cnn", "seed": 5}]},
      "member_epochs": [3, 2],
    },
  )
  build.add_ensemble(record, predictions.member_accuracies(scored))
  assert record.ensemble == {
    "split": "test",
    "accuracy": 0.8,
    "members": [
      {"model": "cnn", "seed": 4, "accuracy": 0.6, "epochs": 3},
      {"model": "cnn", "seed": 5, "accuracy": 0.4, "epochs": 2},
    ],
  }
  assert record.warnings == []  # the ensemble beats both members
  assert console_text.ensemble_line(record.ensemble) == (
    "ensemble of 2: 0.8000 on test; members cnn (seed 4) 0.6000, cnn (seed 5) 0.4000"
  )
  worse = RunRecord("p", "r", metrics={"accuracy": 0.5, "split": "test"}, training=record.training)
  build.add_ensemble(worse, predictions.member_accuracies(scored))
  assert worse.warnings == [
    "the ensemble (0.5000) is less accurate than its member 1 (cnn, 0.6000) on the same test "
    "images: serve that member alone (--ensemble 1 with its seed), or train the members longer"
  ]
  single = RunRecord("p", "r", metrics={"accuracy": 0.8}, training={"settings": {"ensemble": None}})
  build.add_ensemble(single, [])
  assert single.ensemble is None
  unscored = RunRecord("p", "r", training=record.training)  # e.g. no model to score with
  build.add_ensemble(unscored, [])
  assert [m["accuracy"] for m in unscored.ensemble["members"]] == [None, None]
  assert unscored.warnings == []
  assert "ensemble of 2: n/a on no split; members cnn (seed 4) n/a" in console_text.ensemble_line(
    unscored.ensemble
  )
