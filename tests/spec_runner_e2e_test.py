"""The compiled Kubeflow spec, run task by task on this machine with the tasks' own commands,
as Vertex AI would run a schedule on `day-{SPAN}` folders: day 1 cold, on the folder given as
runtime parameter (ImageExampleGen's own driver fingerprinting it as the local driver does);
day 2 on the compiled default, judged against the model day 1 pushed (the served model),
warm-started from it and compared with span 1's data; then a day whose data fails
ImageExampleGen: the spec's exit handler writes that run's record. A compiled run trains on the
newest span (no span window on Kubeflow V2); a day DriftCheck blocks, the days after it and a
blocked day run again with warnings only are the local schedule test's
(tests/schedule_e2e_test.py), and what spec_runner does with a blocking DriftCheck task is
tools/spec_runner_test.py's."""

import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests import images, ingestion, runs, schedule

pytestmark = pytest.mark.e2e

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STAGES = runs.STAGES


def _metadata(run_dir, task, key):
  with open(os.path.join(run_dir, task, "executor_output.json")) as f:
    (artifact,) = json.load(f)["artifacts"][key]["artifacts"]
  return artifact["metadata"]


def _compile(spec, data, out, *flags):
  compiled = subprocess.run(
    [
      sys.executable,
      "kubeflow_runner.py",
      "--compile",
      str(spec),
      "--data-dir",
      data,
      "--output-dir",
      out,
      *schedule.FLAGS,
      "--change-threshold",
      "-1",  # every day's model is pushed: the served model changes day by day
      *flags,
    ],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert compiled.returncode == 0, compiled.stderr[-3000:]


def _run(spec, out, day, *params, expect=0):
  result = subprocess.run(
    [sys.executable, "-m", "tools.spec_runner", str(spec), "--run-id", f"day-{day}", *params],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=900,
  )
  assert result.returncode == expect, result.stdout[-3000:] + result.stderr[-5000:]
  with open(os.path.join(out, "run_summary.json")) as f:
    return result, json.load(f)


def test_compiled_spec_runs_scheduled_days_and_pushes_a_model_that_serves(tmp_path):
  data, out = str(tmp_path / "spans"), str(tmp_path / "out")
  spec = tmp_path / "pipeline.json"
  schedule.write_day(data, 1)
  # Compiled on the spans folder; day 1 runs on a copy given as the runtime parameter.
  _compile(spec, os.path.join(data, "day-{SPAN}"), out)
  given = str(tmp_path / "given")
  day1 = schedule.write_day(given, 1)
  result, summary = _run(spec, out, 1, "--param", f"data_root={given}")
  for stage in STAGES:
    assert f"[spec_runner] {stage}: done" in result.stdout
  # The console: a few lines (the tasks' own output is in the run's log), then the summary.
  lines = result.stdout.splitlines()
  steady = [line for line in lines if not line.endswith(" s") or ": running for " not in line]
  assert len(steady) <= 60 and result.stderr == "", result.stdout
  assert "RunRecordOnExit" not in result.stdout  # the exit handler is quiet after a success
  assert not [
    line
    for line in lines
    if any(
      n in line for n in ("WARNING", "I0000", "E0000", "cuInit", "Traceback", "INFO:", "deprecated")
    )
  ]
  assert sum(line.startswith("[Trainer] epoch ") for line in lines) >= 1
  run_dir = os.path.join(out, "pipeline", "day-1")
  # The same summary and report as local_runner.py writes.
  assert summary["run_id"] == "day-1" and summary["data_dir"] == os.path.join(given, "day-{SPAN}")
  assert summary["span"] == 1 and summary["images_ingested"] == images.count_files(day1)
  assert summary["blessed"] is True
  assert summary["thresholds"] == {
    "accuracy": 0.5,
    "min_class_recall": 0.0,
    "min_class_precision": 0.0,
    "change": None,  # no model to compare with yet
  }
  assert summary["drift"]["baseline"] is None
  assert summary["training"]["warm_start"]["reason"] == "no blessed model to start from"
  classes = [str(d) for d in schedule.CLASSES]
  assert sorted(summary["metrics"]["per_class"]) == classes
  assert os.path.isfile(os.path.join(summary["pushed_model_path"], "saved_model.pb"))
  assert set(STAGES) <= set(summary["stage_seconds"])
  assert not [s for s in summary["stage_seconds"] if "resolver" in s]  # lookups, not stages
  assert os.path.isfile(os.path.join(summary["report_dir"], "model_card.md"))
  assert (
    f"blessed: yes; pushed: version {summary['pushed_version']} ({summary['pushed_model_path']})"
    in result.stdout
  )
  with open(summary["log"]) as f:
    assert "The run succeeded: RunReport wrote its record" in f.read()  # the exit handler ran
  # What the Vertex AI / KFP UI shows of the run: the confusion matrix and the model card.
  matrix = _metadata(run_dir, "RunReport", "confusion_matrix")["confusionMatrix"]
  assert [a["displayName"] for a in matrix["annotationSpecs"]] == classes
  assert [r["row"] for r in matrix["rows"]] == summary["metrics"]["confusion_matrix"]["counts"]
  with open(os.path.join(run_dir, "RunReport", "model_card")) as f:
    card = f.read()
  assert "**Blessed: yes**" in card and "| 3 | " in card
  with open(summary["log"]) as f:
    log = f.read()
  assert "[Trainer] epoch 1/" in log and "absl" in log  # every task's output, noise included

  examples = _metadata(run_dir, "ImageExampleGen", "examples")
  assert examples["images_found"] == examples["images_ingested"] == images.count_files(day1)
  # The compiled spec ran ImageExampleGen's own driver, whose fingerprint (Vertex's cache key)
  # is the local driver's: every file it reads, at any depth.
  assert examples["input_fingerprint"] == ingestion.fingerprint(os.path.join(given, "day-{SPAN}"))
  assert examples["custom:span"] == 1  # the driver's span, recorded on the artifact
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
  files = sorted(glob.glob(os.path.join(day1, "*", "*.png")))
  answer = serve(image_bytes=tf.constant([open(f, "rb").read() for f in files]))
  truth = [os.path.basename(os.path.dirname(f)) for f in files]
  predicted = [c.decode() for c in answer["classes"].numpy()]
  assert set(predicted) <= set(classes)
  np.testing.assert_allclose(answer["probabilities"].numpy().sum(axis=1), 1.0, atol=1e-5)
  assert np.mean(np.array(predicted) == np.array(truth)) > 0.8

  # Day 2, on the compiled default folder: the resolver tasks find the model day 1 pushed
  # (the served model, the Evaluator's baseline), the last blessed one (the warm start) and
  # span 1's statistics.
  day2 = schedule.write_day(data, 2)
  result, second = _run(spec, out, 2)
  assert (
    "[spec_runner] served_model_resolver: served_model = day-1/ServingPusher/pushed_model"
  ) in result.stdout
  assert (
    "[spec_runner] warm_start_model_resolver-model-resolver: model = day-1/Trainer/model"
  ) in result.stdout
  run_dir = os.path.join(out, "pipeline", "day-2")
  assert _metadata(run_dir, "ImageExampleGen", "examples")["images_found"] == images.count_files(
    day2
  )
  blessing = _metadata(run_dir, "Evaluator", "blessing")
  assert blessing["baseline_model_id"] == "day-1/ServingPusher/pushed_model"
  assert second["run_id"] == "day-2" and second["span"] == 2
  assert second["thresholds"]["change"] == -1
  first_model = os.path.join(out, "pipeline", "day-1", "Trainer", "model")
  assert second["metrics"]["baseline"]["model"] == first_model
  assert second["models"]["baseline"]["version"] == summary["pushed_version"]
  assert second["serving"]["version_before"] == summary["pushed_version"]
  assert second["pushed_version"] != summary["pushed_version"] and second["serving"]["new_version"]
  assert second["drift"]["baseline"]["span"] == 1 and second["drift"]["drifted"] == []
  assert "  drift: none against the previous run's data (span 1)" in result.stdout
  assert second["training"]["warm_start"]["from"].startswith(first_model)
  change = second["metrics"]["baseline"]["accuracy_change"]
  assert second["pushed_regression"] == (change if change < 0 else None)
  assert ("  regression: the pushed model is " in result.stdout) == (change < 0)

  # A day whose folder does not exist: ImageExampleGen's task (its driver) fails, and the
  # spec's exit handler writes the run's record (on Vertex AI nothing else would).
  bad = str(tmp_path / "nowhere")
  result, failed = _run(spec, out, 5, "--param", f"data_root={bad}", expect=1)
  assert (failed["run_id"], failed["status"], failed["exit_code"]) == ("day-5", "failed", 1)
  assert failed["failed_stage"] == "ImageExampleGen"
  assert failed["error"].startswith(
    "The DAG failed because some tasks failed. The failed tasks are: [ImageExampleGen]."
  )
  assert failed["pushed_model_path"] is None and failed["blessed"] is False
  assert "[spec_runner] RunRecordOnExit: running (FAILED)" in result.stdout
  assert result.stderr.strip().splitlines()[-1] == f"error: {failed['error']}"
  with open(os.path.join(out, "runs", "day-5.json")) as f:
    assert json.load(f) == failed
  with open(os.path.join(out, "runs", "day-2.json")) as f:
    assert json.load(f) == second  # the earlier days' records are kept
