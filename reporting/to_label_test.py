"""What to label next: to_label.csv's order, budget and paths, and that the file is a manifest
this pipeline ingests, labels and all, wherever it is moved. (Its order against a real run's
predictions.csv: tests/data_centric_e2e_test.py.)"""

import csv
import io
import json
import os
import shutil

import pytest

from components.image_example_gen import manifest, records, walk
from reporting import to_label
from reporting.inference import Prediction
from tests import images, training

NAMES = ["-1", "cat", "dog"]  # "-1": a class name a spreadsheet would take for a formula


def _predictions():
  return [
    Prediction("b/sure.png", "1" * 64, [0.05, 0.9, 0.05], NAMES),
    Prediction("a/torn.png", "2" * 64, [0.1, 0.44, 0.46], NAMES),
    Prediction("c/tie_b.png", "3" * 64, [0.5, 0.3, 0.2], NAMES),
    Prediction("c/tie_a.png", "4" * 64, [0.2, 0.5, 0.3], NAMES),
  ]


def test_the_margin_is_between_the_two_most_probable_classes():
  assert to_label.margin([0.1, 0.44, 0.46]) == pytest.approx(0.02)
  assert to_label.margin([0.5, 0.5]) == 0.0
  assert to_label.margin([1.0]) == 1.0  # one class: nothing to hesitate between


def test_rows_come_least_confident_first_ties_by_path_and_the_budget_keeps_the_first():
  rows = to_label.rows(_predictions(), "/data/new")
  assert [(r.path, r.label) for r in rows] == [
    ("/data/new/a/torn.png", "dog"),
    ("/data/new/c/tie_a.png", "cat"),
    ("/data/new/c/tie_b.png", "-1"),
    ("/data/new/b/sure.png", "cat"),
  ]
  assert [r.margin for r in rows] == pytest.approx([0.02, 0.2, 0.2, 0.85])
  assert [r.top_probability for r in rows] == [0.46, 0.5, 0.5, 0.9]
  assert to_label.rows(_predictions(), "/data/new", budget=2) == rows[:2]


@pytest.mark.parametrize(
  "root, path, expected",
  [
    ("/data/new", "a/1.png", "/data/new/a/1.png"),
    ("/data/lists/batch.csv", "a/1.png", "/data/lists/a/1.png"),  # below the manifest's folder
    ("/data/lists/batch.CSV", "/elsewhere/1.png", "/elsewhere/1.png"),  # the manifest's own
    ("gs://bucket/new/", "a/1.png", "gs://bucket/new/a/1.png"),
    ("/data/lists/batch.csv", "gs://bucket/1.png", "gs://bucket/1.png"),
  ],
)
def test_paths_are_absolute_whatever_the_infer_dir(root, path, expected):
  assert to_label.absolute(root, path) == expected


def test_a_relative_infer_dir_is_taken_from_the_working_folder(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  assert to_label.absolute("new", "a/1.png") == str(tmp_path / "new" / "a" / "1.png")


def test_the_csv_is_path_label_margin_top_probability_with_formulas_neutralised():
  text = to_label.csv_text(to_label.rows(_predictions(), "/data/new"))
  rows = list(csv.reader(io.StringIO(text)))
  assert rows[0] == ["path", "label", "margin", "top_probability"]
  assert rows[3] == ["/data/new/c/tie_b.png", "'-1", "0.200000", "0.500000"]


def _queue(tmp_path, per_class=3):
  """Real digit images in an --infer-dir, and to_label.csv in another folder."""
  infer_dir = tmp_path / "to_classify"
  files = images.digit_files({0: per_class, 1: per_class}, folder="part{digit}")
  images.write_tree(str(infer_dir), files)
  names = ["-1", "zero"]
  found = [
    Prediction(name, "0" * 64, [0.1, 0.9] if "part0" in name else [0.7, 0.3], names)
    for name in sorted(files)
  ]
  queue = tmp_path / "queue" / "to_label.csv"
  queue.parent.mkdir()
  queue.write_text(to_label.csv_text(to_label.rows(found, str(infer_dir))))
  return files, found, queue


def test_the_file_is_a_manifest_this_pipeline_lists_wherever_it_lies(tmp_path):
  files, _, queue = _queue(tmp_path)
  rows = list(manifest.manifest_rows(str(queue)))
  assert {row["label"] for row in rows} == {"-1", "zero"}  # the ' taken off again
  listing = walk.walk_split(str(queue.parent), queue.name)
  candidates = list(listing.candidates)
  assert [c.reason for c in candidates] == [None] * len(files)
  assert {(c.path, c.label) for c in candidates} == {
    (str(tmp_path / "to_classify" / name), "zero" if "part0" in name else "-1") for name in files
  }
  assert listing.classes == ["-1", "zero"]


@pytest.mark.integration  # ImageExampleGen's executor (Beam)
def test_a_corrected_to_label_csv_is_ingested_as_the_next_spans_manifest(tmp_path):
  # Enough files that the hash split gives train and eval both classes, whatever tmp_path is.
  files, _, queue = _queue(tmp_path, per_class=40)
  corrected = tmp_path / "labels-2.csv"  # dropped in as the next span's manifest
  shutil.copy(queue, corrected)
  text = corrected.read_text().replace(",'-1,", ",one,")  # the labeller's corrections
  corrected.write_text(text)
  examples = training.ingest(str(corrected), str(tmp_path / "work"))
  with open(os.path.join(examples.uri, "ingest_report.json")) as f:
    report = json.load(f)
  assert (report["images_found"], report["images_ingested"]) == (len(files), len(files))
  assert report["classes"] == ["one", "zero"] and report["images_rejected"] == {}
  labels = {
    r.file_name: r.label for split in ("train", "eval") for r in records.read(examples.uri, split)
  }
  assert labels == {
    str(tmp_path / "to_classify" / name): "zero" if "part0" in name else "one" for name in files
  }
