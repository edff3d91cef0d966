"""The compiled Kubeflow spec, run task by task on this machine with the tasks' own commands:
a first run on the folder given as runtime parameter, a second judged against the first."""

import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests import runs, training

pytestmark = pytest.mark.e2e

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STAGES = runs.STAGES


def _metadata(run_dir, task, key):
  with open(os.path.join(run_dir, task, "executor_output.json")) as f:
    (artifact,) = json.load(f)["artifacts"][key]["artifacts"]
  return artifact["metadata"]


def test_compiled_spec_runs_locally_and_pushes_a_model_that_serves(tmp_path):
  compiled_tree = training.digits_tree(str(tmp_path / "compiled"), {0: 60, 1: 60, 2: 60})
  run_tree = training.digits_tree(str(tmp_path / "run"), {0: 50, 1: 45, 2: 40})
  spec, out = tmp_path / "pipeline.json", tmp_path / "out"
  compiled = subprocess.run(
    [
      sys.executable,
      "kubeflow_runner.py",
      "--compile",
      str(spec),
      "--data-dir",
      compiled_tree,
      "--output-dir",
      str(out),
      "--image-size",
      "16",
      "--channels",
      "1",
      "--epochs",
      "6",
      "--batch-size",
      "16",
      "--accuracy-threshold",
      "0.5",
      "--min-class-recall",
      "0.3",
      "--min-class-precision",
      "0.3",
    ],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert compiled.returncode == 0, compiled.stderr[-3000:]

  # The runtime parameter points this run at another folder than the compiled default.
  result = subprocess.run(
    [
      sys.executable,
      "-m",
      "tools.spec_runner",
      str(spec),
      "--param",
      f"data_root={run_tree}",
      "--run-id",
      "run-1",
    ],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=900,
  )
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
  for stage in STAGES:
    assert f"[spec_runner] {stage}: done" in result.stdout
  # The console: a few lines (the tasks' own output is in the run's log), then the summary.
  lines = result.stdout.splitlines()
  assert len(lines) <= 60 and result.stderr == "", result.stdout
  assert not [
    line
    for line in lines
    if any(
      n in line for n in ("WARNING", "I0000", "E0000", "cuInit", "Traceback", "INFO:", "deprecated")
    )
  ]
  assert sum(line.startswith("[Trainer] epoch ") for line in lines) >= 1
  run_dir = os.path.join(out, "pipeline", "run-1")
  with open(os.path.join(out, "run_summary.json")) as f:
    summary = json.load(f)  # the same summary and report as local_runner.py writes
  assert summary["run_id"] == "run-1" and summary["data_dir"] == run_tree
  assert summary["images_ingested"] == 135 and summary["blessed"] is True
  assert summary["thresholds"] == {
    "accuracy": 0.5,
    "min_class_recall": 0.3,
    "min_class_precision": 0.3,
    "change": None,
  }
  assert sorted(summary["metrics"]["per_class"]) == ["0", "1", "2"]
  assert os.path.isfile(os.path.join(summary["pushed_model_path"], "saved_model.pb"))
  assert set(STAGES) <= set(summary["stage_seconds"])
  assert os.path.isfile(os.path.join(summary["report_dir"], "model_card.md"))
  assert f"blessed: yes; pushed: {summary['pushed_model_path']}" in result.stdout
  # What the Vertex AI / KFP UI shows of the run: the confusion matrix and the model card.
  matrix = _metadata(run_dir, "RunReport", "confusion_matrix")["confusionMatrix"]
  assert [a["displayName"] for a in matrix["annotationSpecs"]] == ["0", "1", "2"]
  assert [r["row"] for r in matrix["rows"]] == summary["metrics"]["confusion_matrix"]["counts"]
  with open(os.path.join(run_dir, "RunReport", "model_card")) as f:
    card = f.read()
  assert "**Blessed: yes**" in card and "| 2 | " in card
  with open(summary["log"]) as f:
    log = f.read()
  assert "[Trainer] epoch 1/" in log and "absl" in log  # every task's output, noise included

  examples = _metadata(run_dir, "ImageExampleGen", "examples")
  assert examples["images_found"] == examples["images_ingested"] == 135  # the run's tree
  assert examples["custom:span"] == 0  # the driver's span, recorded on the artifact
  assert json.loads(examples["split_names"]) == ["train", "eval"]
  assert _metadata(run_dir, "Evaluator", "blessing")["blessed"] == 1
  assert _metadata(run_dir, "ServingCheck", "blessing")["blessed"] == 1
  pushed = _metadata(run_dir, "ServingPusher", "pushed_model")
  assert pushed["pushed"] == 1
  assert os.path.dirname(pushed["pushed_destination"]) == os.path.join(out, "serving_model")
  # The custom TFLiteModel artifact travels between tasks; its folder is pushed in the version.
  assert _metadata(run_dir, "TFLiteExport", "tflite_model")["passed"] == 1
  assert pushed["tflite_pushed"] == 1
  assert os.path.isfile(os.path.join(pushed["pushed_destination"], "tflite", "model_int8.tflite"))

  # The pushed model answers raw PNG bytes with this run's class names, mostly right.
  serve = tf.saved_model.load(pushed["pushed_destination"]).signatures["serving_default"]
  files = sorted(glob.glob(os.path.join(run_tree, "*", "*.png")))
  answer = serve(image_bytes=tf.constant([open(f, "rb").read() for f in files]))
  truth = [os.path.basename(os.path.dirname(f)) for f in files]
  predicted = [c.decode() for c in answer["classes"].numpy()]
  assert set(predicted) <= {"0", "1", "2"}
  np.testing.assert_allclose(answer["probabilities"].numpy().sum(axis=1), 1.0, atol=1e-5)
  assert np.mean(np.array(predicted) == np.array(truth)) > 0.8

  # A second run, on the compiled default folder, is judged against the first run's model:
  # the resolver tasks find it among the earlier run's artifacts.
  second = subprocess.run(
    [sys.executable, "-m", "tools.spec_runner", str(spec), "--run-id", "run-2"],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=900,
  )
  assert second.returncode in (0, 3), second.stderr[-5000:]  # 3: not blessed against it
  assert (
    "[spec_runner] latest_blessed_model_resolver-model-resolver: model = run-1/Trainer/model"
  ) in second.stdout
  run_dir = os.path.join(out, "pipeline", "run-2")
  assert _metadata(run_dir, "ImageExampleGen", "examples")["images_found"] == 180
  assert _metadata(run_dir, "Evaluator", "blessing")["baseline_model_id"] == "run-1/Trainer/model"
  with open(os.path.join(out, "run_summary.json")) as f:
    summary = json.load(f)
  assert summary["run_id"] == "run-2"
  assert summary["metrics"]["baseline"]["model"] == os.path.join(
    out, "pipeline", "run-1", "Trainer", "model"
  )
  failed = [line for line in second.stdout.splitlines() if line.startswith("  failed gate: ")]
  assert failed == [f"  failed gate: {gate}" for gate in summary["failed_gates"]]
  assert (second.returncode == 3) == bool(summary["failed_gates"])
