"""`python -m pipeline.export`: a pushed version converted later, held to the same parity gate;
usage mistakes refused before TensorFlow loads."""

import json
import os
import shutil

import numpy as np
import pytest
from tfx.utils import path_utils

from components import scoring
from pipeline import export
from tests import images


@pytest.fixture
def version(digits_model, tmp_path):
  """A pushed version (a copy of the digits SavedModel with its assets.extra/) in
  <output dir>/serving_model/, and the run record of the run that pushed it."""
  examples, model, _ = digits_model
  version_dir = tmp_path / "out" / "serving_model" / "1700000000"
  shutil.copytree(path_utils.serving_model_path(model.uri), version_dir)
  (tmp_path / "out" / "runs").mkdir()
  record = {
    "run_id": "r1",
    "pushed_model_path": str(version_dir),
    "examples_path": examples.uri,
    "metrics": {"split": "eval"},
  }
  (tmp_path / "out" / "runs" / "r1.json").write_text(json.dumps(record))
  return version_dir


def test_a_pushed_version_gets_tflite_files_gated_on_its_runs_split(version, capsys):
  assert export.main(["--model", str(version), "--format", "tflite"]) == 0
  line = capsys.readouterr().out.strip()
  assert line.startswith("[export] tflite: model_int8.tflite ") and line.endswith(
    f"eval images; written to {version / 'tflite'}"
  )
  with open(version / "tflite" / "parity.json") as f:
    report = json.load(f)
  assert report["passed"] and report["split"] == "eval" and report["images"] >= 80
  assert report["calibration"] == {"split": "train", "images": 200}
  assert sorted(os.listdir(version / "tflite")) == [
    "README.md",
    "input.json",
    "labels.txt",
    "model_float16.tflite",
    "model_int8.tflite",
    "parity.json",
  ]
  assert not [n for n in os.listdir(version) if n.startswith(".")]  # no staging left behind


def test_onnx_gated_on_a_folder_of_labelled_images(version, tmp_path, capsys):
  labelled = tmp_path / "labelled"
  images.write_tree(str(labelled), images.digit_files({d: 6 for d in range(10)}))
  assert export.main(["--model", str(version), "--format", "onnx", "--images", str(labelled)]) == 0
  assert "top-1 agrees with the SavedModel on 100.0%" in capsys.readouterr().out
  with open(version / "onnx" / "input.json") as f:
    spec = json.load(f)
  classifier = scoring.ONNXClassifier(str(version / "onnx" / "model.onnx"))
  encoded = [
    (labelled / f"{d}" / n).read_bytes() for d in range(10) for n in os.listdir(labelled / f"{d}")
  ]
  np.testing.assert_allclose(
    classifier.predict(scoring.decode(encoded, spec)),
    scoring.served_probabilities(str(version), encoded),
    atol=1e-5,
  )
  # A format already there is refused, and nothing is touched.
  before = (version / "onnx" / "model.onnx").read_bytes()
  assert export.main(["--model", str(version), "--format", "onnx", "--images", str(labelled)]) == 2
  assert capsys.readouterr().err == f"error: --model {version} already has onnx/\n"
  assert (version / "onnx" / "model.onnx").read_bytes() == before


def test_files_that_fail_the_gate_are_not_written(version, tmp_path, capsys, monkeypatch):
  from components.tflite_export import parity  # noqa: PLC0415  (TensorFlow: for this test only)

  monkeypatch.setattr(parity, "MIN_AGREEMENT", 1.01)  # a bound no file can meet
  labelled = tmp_path / "labelled"
  images.write_tree(str(labelled), images.digit_files({d: 3 for d in range(10)}))
  assert export.main(["--model", str(version), "--format", "onnx", "--images", str(labelled)]) == 3
  out = capsys.readouterr().out
  assert out.startswith("[export] onnx: not written: onnx: top-1 agrees with the SavedModel on ")
  assert not (version / "onnx").exists()


@pytest.mark.parametrize(
  "setup, argv, message",
  [
    (None, ["--model", "{tmp}/missing"], "--model {tmp}/missing does not exist or is not a folder"),
    ("empty", ["--model", "{v}"], "--model {v}: no saved_model.pb (not a version"),
    ("version", ["--model", "{v}"], "no run record in {tmp}/runs names {v} with its examples"),
    ("version", ["--model", "{v}", "--images", "{tmp}/nope"], "--images {tmp}/nope is not a"),
    (None, ["--model", "{tmp}", "--format", "tfjs"], "argument --format: invalid choice: 'tfjs'"),
  ],
)
def test_usage_mistakes_exit_2_in_one_line(tmp_path, capsys, setup, argv, message):
  v = tmp_path / "serving_model" / "1700000000"
  if setup:
    v.mkdir(parents=True)
  if setup == "version":
    for name in ("saved_model.pb", "assets.extra/model.keras", "assets.extra/input.json"):
      (v / name).parent.mkdir(exist_ok=True)
      (v / name).write_bytes(b"")
  argv = [a.format(tmp=tmp_path, v=v) for a in argv]
  if "--format" not in argv:
    argv += ["--format", "onnx"]
  assert export.main(argv) == 2
  err = capsys.readouterr().err
  assert err.startswith("error: " + message.format(tmp=tmp_path, v=v)) and err.count("\n") == 1
