"""python -m pipeline.predict on real digit images, against a pushed version's own signature."""

import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from components import scoring
from pipeline import configs, predict, predict_explain
from pipeline import predict_output as output
from tests import images, training
from trainer_module import gradcam

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The closing line: found, classified, failed, where the results went.
CLOSING = r"\[predict\] {} images: {} classified, {} failed; \d+\.\d ms per image; {}"


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
  # --json: every outcome on stdout; on stderr the closing line, no TensorFlow start-up lines
  assert re.fullmatch(CLOSING.format(32, 30, 2, "JSON lines on stdout") + "\n", result.stderr)
  lines = [json.loads(line) for line in result.stdout.splitlines()]
  by_name = {os.path.relpath(line["path"], photos): line for line in lines}
  empty = by_name["empty.jpg"]
  assert (empty["path"], empty["sha256"], empty["error"]) == (
    str(photos / "empty.jpg"),
    hashlib.sha256(b"").hexdigest(),
    "empty_file",
  )
  assert {v for k, v in empty.items() if k not in ("path", "sha256", "error")} == {None}
  assert by_name["png/truncated.png"]["error"] == "truncated_file"
  assert "notes.txt" not in by_name
  good = [line for line in lines if not line["error"]]
  assert len(good) == 30 and len(lines) == 32
  classes, scores, probabilities, names = served(serving / "2000", [g["path"] for g in good])
  assert [g["predicted_class"] for g in good] == classes
  np.testing.assert_allclose([g["top_probability"] for g in good], scores, rtol=1e-6)
  for line, row in zip(good, probabilities):
    assert list(line["probabilities"]) == names
    np.testing.assert_allclose(list(line["probabilities"].values()), row, rtol=1e-6)


def test_a_tflite_run_prints_only_its_own_lines(serving, photos):
  tflite = serving / "2000" / "tflite" / "model_int8.tflite"
  result = run_cli("--model", str(tflite), str(photos / "png"))
  assert result.returncode == 1  # truncated.png
  error, closing = result.stderr.splitlines()
  assert error == f"{photos / 'png' / 'truncated.png'}: error: truncated_file"
  assert re.fullmatch(CLOSING.format(31, 30, 1, "lines on stdout"), closing)
  assert len(result.stdout.splitlines()) == 30
  verbose = run_cli("--verbose", "--model", str(tflite), str(photos / "png"))
  assert "INFO: Created TensorFlow Lite" in verbose.stderr  # what the quiet run left out


def test_human_output_is_path_class_score_and_errors_go_to_stderr(serving, photos, capsys):
  status = predict.main(
    [
      "--model",
      str(serving / "2000"),
      str(photos / "png" / "truncated.png"),
      *sorted(str(p) for p in (photos / "png").glob("*.png"))[:3],
    ]
  )
  out, err = capsys.readouterr()
  assert status == 1
  error, closing = err.splitlines()
  assert error == f"{photos / 'png' / 'truncated.png'}: error: truncated_file"
  assert re.fullmatch(CLOSING.format(4, 3, 1, "lines on stdout"), closing)
  rows = [line.split("\t") for line in out.splitlines()]
  assert len(rows) == 3 and all(len(r) == 3 and 0 < float(r[2]) <= 1 for r in rows)


def test_a_tflite_file_classifies_like_its_interpreter_within_the_parity_bounds(
  serving, photos, capsys
):
  tflite = serving / "2000" / "tflite" / "model_int8.tflite"
  assert predict.main(["--model", str(tflite), "--json", str(photos / "png")]) == 1
  lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
  good = [line for line in lines if not line["error"]]
  with open(serving / "2000" / "tflite" / "input.json") as f:
    spec = json.load(f)
  expected = scoring.TFLiteClassifier(str(tflite)).predict(
    scoring.decode([open(g["path"], "rb").read() for g in good], spec)
  )
  names = open(serving / "2000" / "tflite" / "labels.txt").read().splitlines()
  assert [g["predicted_class"] for g in good] == [names[i] for i in expected.argmax(axis=1)]
  classes, _, _, _ = served(serving / "2000", [g["path"] for g in good])
  assert np.mean(np.array(classes) == [g["predicted_class"] for g in good]) >= 0.95


def test_an_onnx_file_classifies_as_the_saved_model_does(
  serving, photos, digits_model, tmp_path, capsys
):
  output_dir, _ = training.run_tflite_export(
    digits_model, str(tmp_path / "export"), formats=("onnx",)
  )
  onnx_dir = tmp_path / "1" / "onnx"
  shutil.copytree(os.path.join(output_dir.uri, "onnx"), onnx_dir)
  assert predict.main(["--model", str(onnx_dir / "model.onnx"), "--json", str(photos / "png")]) == 1
  lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
  good = [line for line in lines if not line["error"]]
  classes, _, _, _ = served(serving / "2000", [g["path"] for g in good])
  assert [g["predicted_class"] for g in good] == classes  # float32: the same answers
  assert len(good) >= 10


def test_explain_writes_each_image_beside_its_grad_cam_overlay_with_a_caption(
  serving, photos, tmp_path, capsys
):
  out = tmp_path / "explained"
  paths = sorted(str(p) for p in (photos / "png").rglob("*.*g"))
  status = predict.main(["--model", str(serving), "--json", "--explain", str(out), *paths])
  assert status == 1  # truncated.png
  captured = capsys.readouterr()
  where = re.escape(f"JSON lines on stdout; Grad-CAM images in {out}")
  assert re.fullmatch(CLOSING.format(31, 30, 1, where) + "\n", captured.err)
  lines = [json.loads(line) for line in captured.out.splitlines()]
  good = [line for line in lines if not line["error"]]
  assert len(good) == 30
  assert len({g["explanation"] for g in good}) == 30  # same file names in two folders: kept apart
  assert sorted(os.listdir(out)) == sorted(os.path.basename(g["explanation"]) for g in good)
  # Each image: what the model saw (16 x 16, scaled 16 times), beside it the same pixels under
  # the heatmap of the class it printed, recomputed here; the caption below.
  version = scoring.load_keras(str(serving / "2000"))
  cam = gradcam.GradCam(version.model)
  side, gap = 16 * 16, predict_explain.GAP
  for line in good[:6]:
    shown = tf.io.decode_png(open(line["explanation"], "rb").read()).numpy()
    pixels = scoring.decode([open(line["path"], "rb").read()], version.spec)[0]
    heatmap = cam(pixels[np.newaxis], [version.class_names.index(line["predicted_class"])])[0][0]

    def scaled(image):
      return np.repeat(np.repeat(image, 16, axis=0), 16, axis=1)

    assert shown.shape[1] == 2 * side + gap and shown.shape[0] > side + 12
    np.testing.assert_array_equal(shown[:side, :side], scaled(np.repeat(pixels, 3, axis=-1)))
    overlay = scaled(gradcam.overlay(pixels, heatmap)).astype(int)
    assert np.abs(shown[:side, side + gap :].astype(int) - overlay).max() <= 1
    assert (shown[side:] < 100).any()  # the caption's text on white


def test_bad_usage_is_one_line_and_status_2(serving, photos, tmp_path, capsys):
  assert predict.main(["--model", str(tmp_path / "nowhere"), str(photos)]) == 2
  assert predict.main(["--model", str(serving)]) == 2
  assert predict.main(["--model", str(serving), str(tmp_path / "missing_folder")]) == 2
  (tmp_path / "empty").mkdir()
  assert predict.main(["--model", str(tmp_path / "empty"), str(photos)]) == 2
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
    f"error: --model {tmp_path / 'nowhere'} does not exist",
    "error: no image given: pass image files or folders",
    f"error: {tmp_path / 'missing_folder'} does not exist",
    f"error: --model {tmp_path / 'empty'}: not a pushed version (a folder with "
    "saved_model.pb), a serving folder with numbered versions, or a .tflite or .onnx file",
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
  where = re.escape(f"written to {out}")
  assert re.fullmatch(CLOSING.format(32, 30, 2, where) + "\n", result.stdout)
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
  closing = capsys.readouterr().out.splitlines()
  for line, out in zip(closing, (as_csv, as_jsonl)):
    assert re.fullmatch(CLOSING.format(31, 30, 1, re.escape(f"written to {out}")), line)
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
  where = re.escape(f"written to {out}")
  assert re.fullmatch(CLOSING.format(3, 3, 0, where) + "\n", capsys.readouterr().out)
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
  monkeypatch.setattr(output, "PROGRESS_MIN_FILES", 5)
  monkeypatch.setattr(output, "PROGRESS_EVERY", 10)
  monkeypatch.setattr(output, "PROGRESS_SECONDS", 1e9)
  out = tmp_path / "p.jsonl"
  assert predict.main(["--model", str(serving), "--output", str(out), str(photos / "png")]) == 1
  captured = capsys.readouterr()
  assert captured.err == "[predict] 16/31 images\n"  # every 10 files, checked each batch of 8
  where = re.escape(f"written to {out}")
  assert re.fullmatch(CLOSING.format(31, 30, 1, where) + "\n", captured.out)
  assert len(out.read_text().splitlines()) == 31

  def interrupted(f, *args):
    f.write('{"path": "half a file')
    raise KeyboardInterrupt

  monkeypatch.setattr(output, "write_rows", interrupted)
  before = out.read_bytes()
  with pytest.raises(KeyboardInterrupt):
    predict.main(["--model", str(serving), "--output", str(out), str(photos / "png")])
  assert out.read_bytes() == before and os.listdir(tmp_path) == ["p.jsonl"]


def test_output_usage_errors_are_one_line_and_status_2(serving, photos, tmp_path, capsys):
  (tmp_path / "folder.csv").mkdir()
  (tmp_path / "a_file").write_text("")
  for args in (
    ["--output", str(tmp_path / "p.txt")],
    ["--output", str(tmp_path / "p")],
    ["--output", str(tmp_path / "p.csv"), "--json"],
    ["--output", str(tmp_path / "nowhere" / "p.csv")],
    ["--output", str(tmp_path / "folder.csv")],
    ["--output", str(tmp_path / "a_file" / "p.csv")],
  ):
    assert predict.main(["--model", str(serving), *args, str(photos)]) == 2
  assert capsys.readouterr().err.splitlines() == [
    f"error: --output {tmp_path / 'p.txt'}: name a .csv or .jsonl file",
    f"error: --output {tmp_path / 'p'}: name a .csv or .jsonl file",
    "error: --json and --output: choose one",
    f"error: --output {tmp_path / 'nowhere' / 'p.csv'}: {tmp_path / 'nowhere'} does not exist",
    f"error: --output {tmp_path / 'folder.csv'}: is a folder; name a .csv or .jsonl file in it",
    f"error: --output {tmp_path / 'a_file' / 'p.csv'}: {tmp_path / 'a_file'} is not a folder",
  ]
  assert sorted(os.listdir(tmp_path)) == ["a_file", "folder.csv"]  # nothing written
  assert os.listdir(tmp_path / "folder.csv") == []
  result = run_cli("--output", str(tmp_path / "p.tsv"), str(photos))
  assert (result.returncode, result.stdout) == (2, "")
  assert result.stderr == f"error: --output {tmp_path / 'p.tsv'}: name a .csv or .jsonl file\n"


def test_top_k_is_in_every_output_form_and_json_lines_are_the_jsonl_rows(
  serving, photos, tmp_path, capsys
):
  folder = str(photos / "png")
  args = ["--model", str(serving), "--top-k", "3"]
  assert predict.main([*args, folder]) == 1
  plain = capsys.readouterr().out.splitlines()
  assert predict.main([*args, "--json", folder]) == 1
  as_json = capsys.readouterr().out.splitlines()
  assert predict.main([*args, "--output", str(tmp_path / "p.jsonl"), folder]) == 1
  assert predict.main([*args, "--output", str(tmp_path / "p.csv"), folder]) == 1
  assert as_json == (tmp_path / "p.jsonl").read_text().splitlines()  # the same rows, keys
  header, rows = read_csv(tmp_path / "p.csv")
  ranks = ["top_2_class", "top_2_probability", "top_3_class", "top_3_probability"]
  assert header[:8] == ["path", "sha256", "predicted_class", "top_probability", *ranks]
  good = [json.loads(line) for line in as_json if not json.loads(line)["error"]]
  _, _, probabilities, names = served(serving / "2000", [g["path"] for g in good])
  assert len(plain) == len(good) == 30
  for line, text, row, p in zip(good, plain, [r for r in rows if not r["error"]], probabilities):
    order = np.argsort(-p, kind="stable")[:3]
    expected = [(names[i], float(p[i])) for i in order]
    got = [(line["predicted_class"], line["top_probability"])] + [
      (line[f"top_{i}_class"], line[f"top_{i}_probability"]) for i in (2, 3)
    ]
    assert [c for c, _ in got] == [c for c, _ in expected]
    np.testing.assert_allclose([v for _, v in got], [v for _, v in expected], rtol=1e-6)
    cells = text.split("\t")
    assert cells[0] == line["path"] and cells[1::2] == [c for c, _ in expected]
    assert [float(v) for v in cells[2::2]] == [round(v, 4) for _, v in got]
    assert [row[k] for k in ("predicted_class", "top_2_class", "top_3_class")] == cells[1::2]


def test_usage_mistakes_are_one_line_and_status_2_with_or_without_a_model(
  tmp_path, capsys, monkeypatch
):
  photo = tmp_path / "photos" / "a.png"
  photo.parent.mkdir()
  photo.write_bytes(images.encode(images.digit_pixels(1)[0][0], "png"))
  (tmp_path / "notes").mkdir()
  (tmp_path / "notes" / "a.txt").write_text("")
  version = tmp_path / "out" / "serving_model" / "7"
  version.mkdir(parents=True)
  (version / "saved_model.pb").write_bytes(b"")  # found by its name: nothing is loaded
  monkeypatch.setenv("IMAGE_PIPELINE_OUTPUT_DIR", str(tmp_path / "elsewhere"))
  cases = [
    ([str(photo)], f"no model: {tmp_path / 'elsewhere' / 'serving_model'} does not exist (run "
     "the pipeline, or pass --model)"),
    (["--model", str(version), "--top-k", "0", str(photo)], "argument --top-k: must be 1 or more"),
    (["--model", str(version), "--explain", str(photo), str(photo)],
     f"--explain {photo} is not a folder"),
    (["--model", str(version), "--nope", str(photo)], "unrecognized arguments: --nope"),
    (["--model", str(version), str(tmp_path / "notes")], f"no image files in {tmp_path / 'notes'}"),
  ]  # fmt: skip
  for argv, message in cases:
    assert predict.main(argv) == 2
    assert capsys.readouterr() == ("", f"error: {message}\n")
  monkeypatch.setenv("IMAGE_PIPELINE_MAX_IMAGE_PIXELS", "many")  # the pipeline's settings
  assert predict.main(["--model", str(version), str(photo)]) == 2
  assert capsys.readouterr().err.startswith(
    "error: environment variable IMAGE_PIPELINE_MAX_IMAGE_PIXELS='many': "
  )
  # Its defaults: the pipeline's output dir's serving folder, newest version first.
  monkeypatch.setenv("IMAGE_PIPELINE_OUTPUT_DIR", str(tmp_path / "out"))
  monkeypatch.delenv("IMAGE_PIPELINE_MAX_IMAGE_PIXELS")
  args = predict._parser().parse_args([str(photo)])  # noqa: SLF001  (the CLI's own parser)
  plan = predict.check_usage(args, predict.settings())
  assert plan == predict.Plan("saved_model", str(version), [str(photo)])
  assert predict.settings().max_image_pixels == configs.PipelineConfig().max_image_pixels


@pytest.mark.integration
def test_a_usage_mistake_is_refused_before_tensorflow_is_imported(tmp_path):
  """A missing folder takes as long as Python's start, not TensorFlow's import (seconds)."""
  (tmp_path / "a.png").write_bytes(b"")
  cases = {
    str(tmp_path / "photos"): f"error: {tmp_path / 'photos'} does not exist",
    str(tmp_path / "a.png") + "/": f"error: {tmp_path / 'a.png'}/ is not a folder",
  }
  for path, message in cases.items():
    done = subprocess.run(
      [
        sys.executable,
        "-c",
        "import sys; from pipeline import predict; status = predict.main(sys.argv[1:]); "
        "print(status, 'tensorflow' in sys.modules)",
        "--model",
        str(tmp_path),
        path,
      ],
      cwd=ROOT,
      capture_output=True,
      text=True,
      timeout=60,
    )
    assert (done.stdout, done.stderr) == ("2 False\n", message + "\n")
