"""The whole pipeline with LocalDagRunner on the digits tree, as a user runs it.

One module-scoped run (blessed, pushed) feeds the tests; further runs in the same output dir
check the cache, an accuracy threshold that cannot be met and a second model compared with the
first as its baseline; a run on its own data checks the per-class gates: two classes that
cannot be told apart.
"""

import base64
import csv
import glob
import hashlib
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from components import warmup
from components.serving_check import executor as serving_check
from pipeline import console
from pipeline.sample_data import export_digits
from reporting import escape
from reporting.publish import FILES as REPORT_FILES
from tests import images, records, runs

pytestmark = pytest.mark.e2e

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STAGES = runs.STAGES


def run_pipeline(data_dir, output_dir, *flags):
  return runs.run_local(data_dir, output_dir, "digits-e2e", *flags)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
  """Digits plus three files that must be rejected, run once with default settings."""
  data_dir = export_digits(str(tmp_path_factory.mktemp("data") / "digits"))
  good = images.encode(images.digit_pixels(1)[0][0], "png")
  images.write_tree(
    data_dir, {"3/truncated.png": good[:40], "5/empty.jpg": b"", "8/readme.txt": b"labels by hand"}
  )
  output_dir = str(tmp_path_factory.mktemp("out"))
  result, summary = run_pipeline(data_dir, output_dir)
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  return data_dir, output_dir, result, summary


def eval_examples(output_dir):
  """(image bytes, label) of the eval split that ExampleGen wrote."""
  files = glob.glob(
    os.path.join(output_dir, "pipeline", "ImageExampleGen", "examples", "*", "Split-eval", "*")
  )
  return records.images_and_labels(records.examples(files))


def test_blessed_pushed_and_every_file_accounted_for(first_run):
  data_dir, output_dir, result, summary = first_run
  assert summary["blessed"] is True
  assert os.path.isfile(os.path.join(summary["pushed_model_path"], "saved_model.pb"))
  assert os.path.dirname(summary["pushed_model_path"]) == os.path.join(output_dir, "serving_model")
  files = images.count_files(data_dir)
  assert files == 1797 + 3
  assert summary["images_ingested"] + sum(summary["images_rejected"].values()) == files
  assert summary["images_rejected"] == {"empty_file": 1, "not_an_image": 1, "truncated_file": 1}
  assert sum(summary["splits"].values()) == summary["images_ingested"] == 1797
  assert summary["splits"]["eval"] == len(eval_examples(output_dir))
  assert summary["anomalies"] == {"eval": {}, "train": {}}  # the curated schema fits the data
  assert summary["metrics"]["accuracy"] >= 0.8
  assert sorted(summary["metrics"]["per_class"]) == [str(d) for d in range(10)]
  assert all(m["recall"] >= 0.5 for m in summary["metrics"]["per_class"].values())
  assert set(STAGES) <= set(summary["stage_seconds"])
  assert "blessed: yes" in result.stdout


NOISE = (
  "WARNING",
  "I0000",
  "E0000",
  "W0000",
  "cuInit",
  "cuda",
  "deprecated",
  "Traceback",
  "UserWarning",
  "Instructions for updating",
  "INFO:",
)


def test_the_console_is_a_few_readable_lines_and_the_rest_is_in_the_log(first_run):
  _, output_dir, result, summary = first_run
  lines = result.stdout.splitlines()
  # At most 50 lines, not counting the "still running" lines a slow machine adds.
  steady = [line for line in lines if not re.search(r": running for \d+ s$", line)]
  assert len(steady) <= 50, "\n".join(lines)
  assert result.stderr == ""
  assert not [line for line in lines if any(noise in line for noise in NOISE)]
  epochs = [line for line in lines if line.startswith("[Trainer] epoch ")]
  assert len(epochs) == summary["training"]["epochs"]  # one line an epoch
  assert (summary["status"], summary["exit_code"], summary["failed_stage"]) == ("pushed", 0, None)
  history = os.path.join(output_dir, "runs", summary["run_id"].replace(":", "") + ".json")
  with open(history) as f:
    assert json.load(f)["pushed_model_path"] == summary["pushed_model_path"]
  for stage in STAGES:  # each stage: an end line with its seconds, a start line if not quick
    assert (f"[pipeline] {stage} ..." in lines) == (stage not in console.QUICK_STAGES), stage
    assert any(line.startswith(f"[pipeline] {stage} done in ") for line in lines)
  with open(summary["log"]) as f:
    log = f.read()
  assert os.path.dirname(summary["log"]) == os.path.join(output_dir, "logs")
  assert "Component Trainer is running" in log  # TFX's own logging, kept in the log


def test_pushed_model_classifies_raw_image_bytes(first_run):
  _, output_dir, _, summary = first_run
  model = tf.saved_model.load(summary["pushed_model_path"])
  serve = model.signatures["serving_default"]
  examples = eval_examples(output_dir)
  predicted = []
  for start in range(0, len(examples), 64):
    batch = examples[start : start + 64]
    outputs = serve(image_bytes=tf.constant([data for data, _ in batch]))
    assert outputs["probabilities"].shape == (len(batch), 10)
    np.testing.assert_allclose(outputs["probabilities"].numpy().sum(axis=1), 1.0, rtol=1e-4)
    predicted += [c.decode() for c in outputs["classes"].numpy()]
  accuracy = np.mean([p == label for p, (_, label) in zip(predicted, examples)])
  assert accuracy > 0.8, accuracy  # chance is 0.1


def test_serving_accepts_the_rest_b64_shape_and_tf_examples_alike(first_run):
  _, output_dir, _, summary = first_run
  model = tf.saved_model.load(summary["pushed_model_path"])
  examples = eval_examples(output_dir)[:16]
  # What a REST client posts; TF Serving decodes each {"b64": ...} to bytes before the call.
  body = json.dumps({"instances": [{"b64": base64.b64encode(d).decode()} for d, _ in examples]})
  instances = [base64.b64decode(i["b64"]) for i in json.loads(body)["instances"]]
  from_rest = model.signatures["serving_default"](image_bytes=tf.constant(instances))
  serialized = [
    tf.train.Example(
      features=tf.train.Features(
        feature={"image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[d]))}
      )
    ).SerializeToString()
    for d, _ in examples
  ]
  from_examples = model.signatures["serving_examples"](examples=tf.constant(serialized))
  assert list(from_rest["classes"].numpy()) == list(from_examples["classes"].numpy())
  np.testing.assert_allclose(from_rest["probabilities"], from_examples["probabilities"], atol=1e-5)
  assert [c.decode() for c in from_rest["class_names"][0].numpy()] == summary["classes"]


def test_tflite_models_beside_the_pushed_version_agree_with_it(first_run):
  _, output_dir, result, summary = first_run
  tflite = summary["tflite"]
  assert tflite["passed"] is True, tflite["reason"]
  assert tflite["path"] == os.path.join(summary["pushed_model_path"], "tflite")
  assert sorted(os.listdir(tflite["path"])) == [
    "README.md",
    "input.json",
    "labels.txt",
    "model_float16.tflite",
    "model_int8.tflite",
    "parity.json",
  ]
  assert (
    os.path.getsize(os.path.join(tflite["path"], "model_int8.tflite"))
    == (tflite["int8"]["bytes"])
    < 1 << 20
  )  # the default CNN's int8 model: under 1 MB
  assert tflite["split"] == summary["metrics"]["split"]
  assert tflite["images"] == summary["metrics"]["examples"]
  assert tflite["saved_model"]["accuracy"] == pytest.approx(
    summary["metrics"]["accuracy"], abs=1e-3
  )
  assert tflite["int8"]["agreement"] >= 0.98
  assert tflite["int8"]["accuracy"] >= tflite["saved_model"]["accuracy"] - 0.01
  with open(os.path.join(tflite["path"], "labels.txt")) as f:
    assert f.read().splitlines() == summary["classes"]
  assert "  tflite: int8 " in result.stdout


def test_unreachable_accuracy_threshold_exits_3_and_pushes_nothing(first_run):
  data_dir, output_dir, _, first = first_run
  assert first["metrics"]["accuracy"] < 1.0  # so a threshold of 1.0 cannot be met
  pushed_before = sorted(os.listdir(os.path.join(output_dir, "serving_model")))
  result, summary = run_pipeline(data_dir, output_dir, "--accuracy-threshold", "1.0")
  assert result.returncode == 3, result.stderr[-3000:]
  assert summary["blessed"] is False
  assert summary["pushed_model_path"] is None
  assert sorted(os.listdir(os.path.join(output_dir, "serving_model"))) == pushed_before
  # The gate is named as the summary's accuracy line names the metric: "<split> accuracy".
  split = summary["metrics"]["split"]
  (gate,) = [g for g in summary["failed_gates"] if g.startswith(f"{split} accuracy = ")]
  assert float(gate.split(" = ")[1].split()[0]) == pytest.approx(summary["metrics"]["accuracy"])
  assert f"  failed gate: {gate}" in result.stdout.splitlines()
  assert f"  {split} accuracy: {summary['metrics']['accuracy']:.4f}" in result.stdout
  assert (summary["status"], summary["exit_code"]) == ("not_blessed", 3)
  assert "blessed: no" in result.stdout
  assert summary["report_dir"] == os.path.join(output_dir, "report")  # nothing pushed
  with open(os.path.join(summary["report_dir"], "model_card.md")) as f:
    assert "**Blessed: no**" in f.read()


def test_pushed_layout_has_warmup_that_replays_config_files_and_a_report(first_run):
  _, output_dir, result, summary = first_run
  base = os.path.join(output_dir, "serving_model")
  version = summary["pushed_version"]
  assert version in os.listdir(base)  # with the versions later runs in this dir pushed
  assert {n for n in os.listdir(base) if not n.isdigit()} == {
    "models.config",
    "batching_parameters.txt",
    "request.json",
    "README.md",
    "reports",
  }
  assert summary["serving_check"]["blessed"] is True
  serve = tf.saved_model.load(summary["pushed_model_path"]).signatures["serving_default"]
  requests = warmup.read_warmup(
    os.path.join(summary["pushed_model_path"], "assets.extra", "tf_serving_warmup_requests")
  )
  assert len(requests) == 8 + 1  # --warmup-requests 8 at batch 1, then all 8 at once
  eval_images = {data for data, _ in eval_examples(output_dir)}
  for request in requests:
    batch = list(request.inputs["image_bytes"].string_val)
    assert set(batch) <= eval_images
    outputs = serve(image_bytes=tf.constant(batch))
    serving_check.check_outputs(outputs, len(batch))
  assert len({c for c in outputs["classes"].numpy()}) > 1  # the sample spans several classes

  metrics = summary["metrics"]
  assert all(
    set(m)
    == {
      "images",
      "predicted",
      "precision",
      "precision_95ci",
      "recall",
      "recall_95ci",
      "f1_score",
      "never_predicted",
    }
    for m in metrics["per_class"].values()
  )
  matrix = metrics["confusion_matrix"]
  assert matrix["classes"] == [str(d) for d in range(10)]
  assert sum(map(sum, matrix["counts"])) == summary["splits"]["eval"] == metrics["examples"]
  correct = sum(matrix["counts"][i][i] for i in range(10))
  assert correct / metrics["examples"] == pytest.approx(metrics["accuracy"], abs=1e-3)
  calibration = metrics["calibration"]
  assert calibration["top1_accuracy"] == pytest.approx(metrics["accuracy"], abs=1e-3)
  assert sum(b["examples"] for b in calibration["bins"]) == metrics["examples"]
  assert 0.0 <= calibration["expected_calibration_error"] < 0.2
  assert "baseline" not in metrics  # the first blessed model has none

  assert summary["report_dir"] == os.path.join(base, "reports", version)
  for directory in (summary["report_dir"], os.path.join(output_dir, "report")):
    assert sorted(os.listdir(directory)) == sorted(REPORT_FILES)
  with open(os.path.join(summary["report_dir"], "model_card.md")) as f:
    card = f.read()
  assert "**Blessed: yes**" in card and f"{summary['images_ingested']} ingested" in card
  # The training settings this model was made with (the defaults here).
  settings = summary["training"]["settings"]
  assert (
    settings["model"],
    settings["input_shape"],
    settings["resize"],
    settings["epochs"],
    settings["batch_size"],
    settings["learning_rate"],
    settings["lr_schedule"],
  ) == ("cnn", [32, 32, 3], "squash", 10, 32, 0.001, "cosine")
  for line in (
    "- Model: cnn, width 32, dropout 0.3",
    "- Weights: trained from scratch",
    "- Input: 32x32x3 pixels, resized by squash",
    "- Learning rate 0.001 (cosine schedule), 10 epochs planned, batch 32",
    "- Augmentation: none",
  ):
    assert line in card.splitlines()
  assert all(f"| {d} | " in card for d in range(10))


@pytest.fixture(scope="module")
def compared_run(first_run):
  """A new Trainer run (other epochs) in the first run's output dir: (result, summary)."""
  data_dir, output_dir, _, _ = first_run
  return run_pipeline(data_dir, output_dir, "--epochs", "4")


def test_a_new_model_is_compared_with_the_served_one(first_run, compared_run):
  _, output_dir, _, first = first_run
  result, summary = compared_run
  assert summary["stages"]["Trainer"]["state"] == "ran"
  assert summary["model_path"] != first["model_path"]
  baseline = summary["metrics"]["baseline"]
  assert baseline["model"] == first["model_path"]
  assert baseline["accuracy"] == pytest.approx(first["metrics"]["accuracy"], abs=1e-4)
  assert baseline["accuracy_change"] == pytest.approx(
    summary["metrics"]["accuracy"] - first["metrics"]["accuracy"], abs=1e-3
  )
  served = f"version {first['pushed_version']}, run {first['run_id']}"
  assert f"  baseline (the served model, {served}) accuracy: " in result.stdout


def test_a_class_below_its_bound_blocks_the_push_and_is_named(tmp_path):
  # Digit 1 images are split between two folders: no model can tell "one" from "uno", so
  # their recalls add up to about 1 while the other classes are easy.
  kept = {0: "0", 1: None, 2: "2", 3: "3", 4: "4"}
  files = {
    f"{kept[d] or ('one' if i % 2 else 'uno')}/digit_{i:04d}.png": images.encode(p, "png")
    for i, (p, d) in enumerate(images.digit_pixels(1797))
    if d in kept
  }
  data_dir = str(tmp_path / "confusable")
  images.write_tree(data_dir, files)
  output_dir = str(tmp_path / "out")
  result, summary = run_pipeline(
    data_dir,
    output_dir,
    "--epochs",
    "4",
    "--min-class-recall",
    "0.75",
    "--min-class-precision",
    "0.0",
  )
  assert result.returncode == 3, result.stdout[-2000:] + result.stderr[-3000:]
  assert summary["metrics"]["accuracy"] >= summary["thresholds"]["accuracy"]  # good overall
  assert summary["blessed"] is False and summary["pushed_model_path"] is None
  recalls = {c: m["recall"] for c, m in summary["metrics"]["per_class"].items()}
  failing = {c for c, r in recalls.items() if r < 0.75}
  assert failing and failing <= {"one", "uno"}, recalls
  assert sorted(summary["failed_gates"]) == sorted(
    g for g in summary["failed_gates"] if g.startswith("recall of class ")
  )
  named = {g.split()[3] for g in summary["failed_gates"]}
  assert named == failing
  assert all(f"failed gate: recall of class {c}" in result.stdout for c in failing)


def test_report_command_prints_the_per_class_table_of_the_latest_run(first_run, tmp_path):
  _, output_dir, _, _ = first_run
  result = subprocess.run(
    [
      sys.executable,
      "-m",
      "pipeline.report",
      "--output-dir",
      output_dir,
      "--pipeline-name",
      "digits-e2e",
    ],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert result.returncode == 0, result.stderr[-3000:]
  with open(os.path.join(output_dir, "run_summary.json")) as f:
    latest = json.load(f)
  rows = [line for line in result.stdout.splitlines() if line.startswith("| ")][1:]
  assert [row.split(" | ")[0][2:] for row in rows] == [str(d) for d in range(10)]
  for row in rows:
    name, images_, predicted, _, recall, _ = [c.strip() for c in row.strip("| ").split(" | ")]
    figures = latest["metrics"]["per_class"][name]
    assert (int(images_), int(predicted)) == (figures["images"], figures["predicted"])
    assert float(recall.split()[0]) == pytest.approx(figures["recall"], abs=1e-4)
    assert recall.split()[1] == "({:.2f}-{:.2f})".format(*figures["recall_95ci"])
  assert f"report written to {latest['report_dir']}" in result.stdout

  missing = subprocess.run(
    [
      sys.executable,
      "-m",
      "pipeline.report",
      "--output-dir",
      output_dir,
      "--pipeline-name",
      "no-such-pipeline",
    ],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert missing.returncode == 2
  assert "no run of pipeline 'no-such-pipeline'" in missing.stderr


def test_predictions_csv_has_every_gated_image_as_the_served_model_answers(first_run):
  data_dir, output_dir, _, summary = first_run
  with open(os.path.join(summary["report_dir"], "predictions.csv"), newline="") as f:
    rows = list(csv.DictReader(f))
  classes = summary["classes"]
  assert list(rows[0]) == [
    "path",
    "sha256",
    "split",
    "true_class",
    "predicted_class",
    "top_probability",
  ] + [f"p_{c}" for c in classes]
  split = summary["metrics"]["split"]
  # One row per image ImageExampleGen wrote to the gated split, each a file on disk.
  assert len(rows) == summary["splits"][split] == summary["metrics"]["examples"]
  assert {r["split"] for r in rows} == {split}
  files = [os.path.join(data_dir, r["path"]) for r in rows]
  for row, path in zip(rows, files):
    with open(path, "rb") as f:
      assert hashlib.sha256(f.read()).hexdigest() == row["sha256"]
    assert row["true_class"] == os.path.basename(os.path.dirname(path))
    probabilities = [float(row[f"p_{c}"]) for c in classes]
    assert sum(probabilities) == pytest.approx(1.0, abs=1e-4)
    assert classes[int(np.argmax(probabilities))] == row["predicted_class"]
  # Its counts are the confusion matrix's.
  counts = [[0] * len(classes) for _ in classes]
  for row in rows:
    counts[classes.index(row["true_class"])][classes.index(row["predicted_class"])] += 1
  assert counts == summary["metrics"]["confusion_matrix"]["counts"]
  # TFMA's top-5 accuracy (10 classes) is how often the true class is among the 5 most probable.
  in_top5 = [
    classes.index(r["true_class"])
    in np.argsort([-float(r[f"p_{c}"]) for c in classes], kind="stable")[:5]
    for r in rows
  ]
  assert summary["metrics"]["top_5_accuracy"] == pytest.approx(np.mean(in_top5), abs=1e-4)
  # Its top-1 is what the pushed model serves for those files.
  serve = tf.saved_model.load(summary["pushed_model_path"]).signatures["serving_default"]
  data = [open(path, "rb").read() for path in files]
  served = [
    c.decode()
    for i in range(0, len(data), 64)
    for c in serve(image_bytes=tf.constant(data[i : i + 64]))["classes"].numpy()
  ]
  assert served == [r["predicted_class"] for r in rows]
  # The summary, console and card name the most confident mistakes by path.
  wrong = sorted(
    (r for r in rows if r["true_class"] != r["predicted_class"]),
    key=lambda r: -float(r["top_probability"]),
  )
  block = summary["predictions"]
  assert block["mistakes"] == len(wrong) and block["images"] == len(rows)
  listed = block["most_confident_mistakes"]
  assert len(listed) == min(10, len(wrong))
  confidence = {r["path"]: float(r["top_probability"]) for r in wrong}
  assert [m["probability"] for m in listed] == sorted(
    (m["probability"] for m in listed), reverse=True
  )
  left_out = set(confidence) - {m["path"] for m in listed}
  assert all(confidence[p] <= listed[-1]["probability"] + 1e-4 for p in left_out)
  with open(os.path.join(summary["report_dir"], "model_card.md")) as f:
    card = f.read()
  assert "[predictions.csv](predictions.csv)" in card
  for m in listed:
    assert f"| {escape.markdown(m['path'])} | {m['true_class']} | {m['predicted_class']} |" in card


def test_model_analysis_notebook_runs_headless_on_the_latest_evaluation(first_run, compared_run):
  import nbclient  # noqa: PLC0415  (only this test runs the notebook)
  import nbformat  # noqa: PLC0415  (only this test runs the notebook)

  _, output_dir, _, first = first_run
  _, latest = compared_run  # compared with the first run's model, the one served
  with open(os.path.join(output_dir, "run_summary.json")) as f:
    assert json.load(f)["run_id"] == latest["run_id"]  # the last run in this output dir
  notebook = nbformat.read(os.path.join(ROOT, "notebooks", "model_analysis.ipynb"), as_version=4)
  os.environ.update(MODEL_ANALYSIS_OUTPUT_DIR=output_dir, MODEL_ANALYSIS_PIPELINE_NAME="digits-e2e")
  try:
    nbclient.NotebookClient(
      notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": ROOT}}
    ).execute()
  finally:
    for key in ("MODEL_ANALYSIS_OUTPUT_DIR", "MODEL_ANALYSIS_PIPELINE_NAME"):
      os.environ.pop(key)
  outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
  texts = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
  facts = json.loads(texts.strip().splitlines()[-1])
  assert facts["candidate"] == latest["model_path"]
  assert facts["baseline"] == latest["metrics"]["baseline"]["model"] == first["model_path"]
  assert facts["accuracy"] == latest["metrics"]["accuracy"]
  assert facts["classes"] == facts["labels"] == [str(d) for d in range(10)]
  # The notebook's predictions are the run's predictions.csv.
  assert (facts["predictions"], facts["mistakes"]) == (
    latest["predictions"]["images"],
    latest["predictions"]["mistakes"],
  )
  assert (
    sum(o.output_type == "display_data" and "image/png" in o.get("data", {}) for o in outputs)
    + sum(o.output_type == "execute_result" and "image/png" in o.get("data", {}) for o in outputs)
    >= 2
  )  # the two plots
  evaluator_failures = [g for g in latest["failed_gates"] if not g.startswith("serving check")]
  assert ("Gates: all passed" in texts) == (not evaluator_failures)
