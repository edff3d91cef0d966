"""python -m pipeline.predict on real digit images, against a pushed version's own signature."""

import csv
import hashlib
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


def read_csv(path):
  with open(path, newline="", encoding="utf-8") as f:
    header, *rows = list(csv.reader(f))
  return header, [dict(zip(header, row)) for row in rows]


def sha256_of(path):
  return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_output_csv_is_a_row_per_file_with_the_served_answers_and_bad_files_their_reason(
  serving, photos, tmp_path
):
  out = tmp_path / "predictions.csv"
  result = run_cli("--model", str(serving / "2000"), "--output", str(out), str(photos))
  assert result.returncode == 1, result.stderr  # truncated.png and empty.jpg
  assert result.stderr == ""  # no progress for 32 files, no per-image lines
  assert result.stdout == f"[predict] 32 images: 30 classified, 2 failed; written to {out}\n"
  assert [n for n in os.listdir(tmp_path) if n != "predictions.csv"] == []  # no temporary file
  header, rows = read_csv(out)
  paths = predict.find_images([str(photos)])
  assert [r["path"] for r in rows] == paths and len(rows) == 32  # one row a file, found order
  assert [r["sha256"] for r in rows] == [sha256_of(p) for p in paths]
  good = [r for r in rows if not r["error"]]
  classes, scores, probabilities, names = served(serving / "2000", [r["path"] for r in good])
  assert header == [
    "path",
    "sha256",
    "predicted_class",
    "top_probability",
    *(f"p_{n}" for n in names),
    "error",
  ]
  assert [r["predicted_class"] for r in good] == classes
  np.testing.assert_allclose([float(r["top_probability"]) for r in good], scores, rtol=1e-6)
  p = np.array([[float(r[f"p_{n}"]) for n in names] for r in good])
  np.testing.assert_allclose(p, probabilities, rtol=1e-6)
  np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-4)
  assert [names[i] for i in p.argmax(axis=1)] == classes
  bad = {os.path.relpath(r["path"], photos): r for r in rows if r["error"]}
  assert set(bad) == {"empty.jpg", "png/truncated.png"}
  assert bad["empty.jpg"]["error"] == "empty_file"
  assert bad["empty.jpg"]["sha256"] == hashlib.sha256(b"").hexdigest()
  assert bad["png/truncated.png"]["error"] == "truncated_file"
  for row in bad.values():
    assert all(row[c] == "" for c in header[2:-1])  # no prediction fields


def test_output_jsonl_has_the_csv_rows_plus_probabilities(serving, photos, tmp_path, capsys):
  as_csv, as_jsonl = tmp_path / "p.csv", tmp_path / "p.JSONL"
  for out in (as_csv, as_jsonl):
    assert predict.main(["--model", str(serving), "--output", str(out), str(photos / "png")]) == 1
  assert capsys.readouterr().out.splitlines() == [
    f"[predict] 31 images: 30 classified, 1 failed; written to {out}" for out in (as_csv, as_jsonl)
  ]
  header, rows = read_csv(as_csv)
  lines = [json.loads(line) for line in as_jsonl.read_text(encoding="utf-8").splitlines()]
  assert len(lines) == len(rows) == 31
  for line, row in zip(lines, rows):
    assert list(line) == [*header, "probabilities"]
    for column in header:
      value = line[column]
      assert row[column] == ("" if value is None else str(value)), column
    if line["error"]:
      assert line["probabilities"] is None and line["predicted_class"] is None
    else:
      assert line["probabilities"] == {c[2:]: line[c] for c in header if c.startswith("p_")}
      assert max(line["probabilities"], key=line["probabilities"].get) == line["predicted_class"]


def test_output_from_a_tflite_model_names_labels_txt_classes_and_quotes_odd_paths(
  serving, photos, tmp_path, capsys
):
  """Paths with commas, quotes and a newline come back whole through csv.reader."""
  folder = tmp_path / "odd"
  folder.mkdir()
  digits = sorted((photos / "png").glob("digit_*.png"))[:3]
  odd = [folder / "a,b.png", folder / 'say "hi".png', folder / "two\nlines.png"]
  for source, target in zip(digits, odd):
    shutil.copy(source, target)
  tflite_dir = serving / "2000" / "tflite"
  out = tmp_path / "p.csv"
  assert (
    predict.main(
      ["--model", str(tflite_dir / "model_int8.tflite"), "--output", str(out), str(folder)]
    )
    == 0
  )
  assert (
    capsys.readouterr().out == f"[predict] 3 images: 3 classified, 0 failed; written to {out}\n"
  )
  header, rows = read_csv(out)
  names = (tflite_dir / "labels.txt").read_text().splitlines()
  assert header[4:-1] == [f"p_{n}" for n in names]
  assert [r["path"] for r in rows] == sorted(str(p) for p in odd)
  assert [r["sha256"] for r in rows] == [sha256_of(r["path"]) for r in rows]
  for row in rows:
    p = [float(row[f"p_{n}"]) for n in names]
    assert row["error"] == "" and row["predicted_class"] == names[int(np.argmax(p))]


def test_progress_lines_for_long_runs_and_a_failed_write_leaves_no_file(
  serving, photos, tmp_path, capsys, monkeypatch
):
  monkeypatch.setattr(predict, "BATCH", 8)
  monkeypatch.setattr(predict, "PROGRESS_MIN_FILES", 5)
  monkeypatch.setattr(predict, "PROGRESS_EVERY", 10)
  monkeypatch.setattr(predict, "PROGRESS_SECONDS", 1e9)
  out = tmp_path / "p.jsonl"
  assert predict.main(["--model", str(serving), "--output", str(out), str(photos / "png")]) == 1
  captured = capsys.readouterr()
  assert captured.err == "[predict] 16/31 images\n"  # every 10 files, checked each batch of 8
  assert captured.out == f"[predict] 31 images: 30 classified, 1 failed; written to {out}\n"
  assert len(out.read_text().splitlines()) == 31

  def interrupted(f, *args):
    f.write('{"path": "half a file')
    raise KeyboardInterrupt

  monkeypatch.setattr(predict, "write_rows", interrupted)
  before = out.read_bytes()
  with pytest.raises(KeyboardInterrupt):
    predict.main(["--model", str(serving), "--output", str(out), str(photos / "png")])
  assert out.read_bytes() == before and os.listdir(tmp_path) == ["p.jsonl"]


def test_output_usage_errors_are_one_line_and_status_2(serving, photos, tmp_path, capsys):
  for args in (
    ["--output", str(tmp_path / "p.txt")],
    ["--output", str(tmp_path / "p")],
    ["--output", str(tmp_path / "p.csv"), "--json"],
    ["--output", str(tmp_path / "nowhere" / "p.csv")],
  ):
    assert predict.main(["--model", str(serving), *args, str(photos)]) == 2
  assert capsys.readouterr().err.splitlines() == [
    f"error: --output {tmp_path / 'p.txt'}: name a .csv or .jsonl file",
    f"error: --output {tmp_path / 'p'}: name a .csv or .jsonl file",
    "error: --json and --output: choose one",
    f"error: --output {tmp_path / 'nowhere' / 'p.csv'}: no such folder",
  ]
  assert os.listdir(tmp_path) == []
  result = run_cli("--output", str(tmp_path / "p.tsv"), str(photos))
  assert (result.returncode, result.stdout) == (2, "")
  assert result.stderr == f"error: --output {tmp_path / 'p.tsv'}: name a .csv or .jsonl file\n"
