"""python -m pipeline.predict on real digit images, against a pushed version's own signature."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from components.tflite_export import convert
from pipeline import predict
from tests import images, training

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def serving(digits_model, digits_tflite, tmp_path_factory):
  """A serving folder as the pusher leaves it: an older version and the newest, with tflite/."""
  base = tmp_path_factory.mktemp("serving_model")
  model_dir = training.serving_model_dir(digits_model[1])
  shutil.copytree(model_dir, base / "1000")
  shutil.copytree(model_dir, base / "2000")
  shutil.copytree(os.path.join(digits_tflite[0].uri, "tflite"), base / "2000" / "tflite")
  return base


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
  """Real digits (PNG, and JPEG in a sub-folder), a truncated PNG, an empty JPEG and a text
  file (not an image name: left out of a folder)."""
  root = tmp_path_factory.mktemp("photos")
  files = {
    **images.digit_files({d: 2 for d in range(10)}, folder="png", skip=50),
    # the same file names as the first PNGs, in a sub-folder
    **images.digit_files({d: 1 for d in range(10)}, folder="png/more", fmt="jpeg", skip=50),
  }
  good = next(iter(files.values()))
  files.update({"png/truncated.png": good[:40], "empty.jpg": b"", "notes.txt": b"hello"})
  images.write_tree(str(root), files)
  return root


def served(version_dir, paths):
  serve = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
  outputs = serve(image_bytes=tf.constant([open(p, "rb").read() for p in paths]))
  return (
    [c.decode() for c in outputs["classes"].numpy()],
    outputs["scores"].numpy(),
    outputs["probabilities"].numpy(),
    [c.decode() for c in outputs["class_names"][0].numpy()],
  )


def run_cli(*args, env=None):
  return subprocess.run(
    [sys.executable, "-m", "pipeline.predict", *args],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=300,
    env={**os.environ, **(env or {})},
  )


def test_a_folder_of_real_images_gets_the_served_signatures_answers_and_bad_files_one_line(
  serving, photos, tmp_path
):
  # No --model: the newest version under $IMAGE_PIPELINE_OUTPUT_DIR/serving_model.
  output_dir = tmp_path / "out"
  output_dir.mkdir()
  os.symlink(serving, output_dir / "serving_model")
  result = run_cli("--json", str(photos), env={"IMAGE_PIPELINE_OUTPUT_DIR": str(output_dir)})
  assert result.returncode == 1, result.stderr  # some files could not be classified
  assert result.stderr == ""  # --json: every outcome on stdout; no TensorFlow start-up lines
  lines = [json.loads(line) for line in result.stdout.splitlines()]
  by_name = {os.path.relpath(line["path"], photos): line for line in lines}
  assert by_name["empty.jpg"] == {"path": str(photos / "empty.jpg"), "error": "empty_file"}
  assert by_name["png/truncated.png"]["error"] == "truncated_file"
  assert "notes.txt" not in by_name
  good = [line for line in lines if "error" not in line]
  assert len(good) == 30 and len(lines) == 32
  classes, scores, probabilities, names = served(serving / "2000", [g["path"] for g in good])
  assert [g["class"] for g in good] == classes
  np.testing.assert_allclose([g["score"] for g in good], scores, rtol=1e-6)
  for line, row in zip(good, probabilities):
    assert list(line["probabilities"]) == names
    np.testing.assert_allclose(list(line["probabilities"].values()), row, rtol=1e-6)


def test_a_tflite_run_prints_only_its_own_lines(serving, photos):
  tflite = serving / "2000" / "tflite" / "model_int8.tflite"
  result = run_cli("--model", str(tflite), str(photos / "png"))
  assert result.returncode == 1  # truncated.png
  assert result.stderr == f"{photos / 'png' / 'truncated.png'}: error: truncated_file\n"
  assert len(result.stdout.splitlines()) == 30
  verbose = run_cli("--verbose", "--model", str(tflite), str(photos / "png"))
  assert "INFO: Created TensorFlow Lite" in verbose.stderr  # what the quiet run left out


def test_human_output_is_path_class_score_and_errors_go_to_stderr(serving, photos, capsys):
  status = predict.main(
    [
      "--model",
      str(serving / "2000"),
      str(photos / "png" / "truncated.png"),
      str(photos / "missing.png"),
      *sorted(str(p) for p in (photos / "png").glob("*.png"))[:3],
    ]
  )
  out, err = capsys.readouterr()
  assert status == 1
  assert err.splitlines() == [
    f"{photos / 'png' / 'truncated.png'}: error: truncated_file",
    f"{photos / 'missing.png'}: error: missing_file",
  ]
  rows = [line.split("\t") for line in out.splitlines()]
  assert len(rows) == 3 and all(len(r) == 3 and 0 < float(r[2]) <= 1 for r in rows)


def test_a_tflite_file_classifies_like_its_interpreter_within_the_parity_bounds(
  serving, photos, capsys
):
  tflite = serving / "2000" / "tflite" / "model_int8.tflite"
  assert predict.main(["--model", str(tflite), "--json", str(photos / "png")]) == 1
  lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
  good = [line for line in lines if "error" not in line]
  with open(serving / "2000" / "tflite" / "input.json") as f:
    spec = json.load(f)
  from components.tflite_export.executor import decode  # pylint: disable=import-outside-toplevel

  expected = convert.TFLiteClassifier(str(tflite)).predict(
    decode([open(g["path"], "rb").read() for g in good], spec)
  )
  names = open(serving / "2000" / "tflite" / "labels.txt").read().splitlines()
  assert [g["class"] for g in good] == [names[i] for i in expected.argmax(axis=1)]
  classes, _, _, _ = served(serving / "2000", [g["path"] for g in good])
  assert np.mean(np.array(classes) == [g["class"] for g in good]) >= 0.95


def test_explain_writes_a_grad_cam_overlay_per_image(serving, photos, tmp_path, capsys):
  out = tmp_path / "explained"
  paths = sorted(str(p) for p in (photos / "png").rglob("*.*g"))
  status = predict.main(["--model", str(serving), "--json", "--explain", str(out), *paths])
  assert status == 1  # truncated.png
  lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
  good = [line for line in lines if "error" not in line]
  assert len(good) == 30
  assert len({g["explanation"] for g in good}) == 30  # same file names in two folders: kept apart
  for line in good:
    overlay = tf.io.decode_png(open(line["explanation"], "rb").read()).numpy()
    assert overlay.shape[2] == 3 and min(overlay.shape[:2]) >= predict.EXPLAIN_MIN_SIDE
  assert sorted(os.listdir(out)) == sorted(os.path.basename(g["explanation"]) for g in good)


def test_bad_usage_is_one_line_and_status_2(serving, photos, tmp_path, capsys):
  assert predict.main(["--model", str(tmp_path / "nowhere"), str(photos)]) == 2
  assert predict.main(["--model", str(serving)]) == 2
  assert predict.main(["--model", str(serving), str(tmp_path / "empty_folder_missing")]) == 1
  alone = tmp_path / "alone.tflite"
  shutil.copy(serving / "2000" / "tflite" / "model_int8.tflite", alone)
  assert predict.main(["--model", str(alone), str(photos)]) == 2
  copied = tmp_path / "tflite"
  shutil.copytree(serving / "2000" / "tflite", copied)  # without the version around it
  assert (
    predict.main(
      [
        "--model",
        str(copied / "model_int8.tflite"),
        "--explain",
        str(tmp_path / "x"),
        str(photos / "png"),
      ]
    )
    == 2
  )
  err = capsys.readouterr().err.splitlines()
  errors = [line for line in err if line.startswith("error: ")]
  assert errors == [
    f"error: --model {tmp_path / 'nowhere'}: not a pushed version (a folder with "
    "saved_model.pb), a serving folder with numbered versions, or a .tflite file",
    "error: no image given: pass image files or folders",
    f"error: --model {alone}: needs input.json and labels.txt beside it (No such file or "
    f"directory: {tmp_path / 'input.json'})",
    "error: --explain needs the Keras model and input.json of the pushed version "
    f"({tmp_path / 'assets.extra' / 'model.keras'} not found)",
  ]
