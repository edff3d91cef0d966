"""The served model is the baseline, and every run's record says what that run did.

One output dir, the runs of issue 35: a good model pushed; the same command again (nothing new:
nothing trained, evaluated or pushed again); a weak model blessed under --change-threshold -1
and stopped by SIGTERM during TFLiteExport, before its push; then the weak settings with the
default change threshold, whose cached Trainer must now be compared with the served model (not
with itself) and refused. Each figure is checked against independent truth: the serving dir's
versions on disk, MLMD's executions, the served model's answers. The classes are named like
spreadsheet formulas: every CSV the runs write neutralises them.
"""

import csv
import glob
import json
import os
import signal
import subprocess
import time

import pytest
import tensorflow as tf

from tests import images, records, runs
from tools.runner import ROOT, local_runner_command

pytestmark = pytest.mark.e2e

NAME = "served-e2e"
# Class names a spreadsheet would run as formulas (OWASP's CSV injection); sorted as given.
CLASSES = {0: "+SUM(1+1)", 1: "-1", 2: '=HYPERLINK("x")', 3: "@cmd"}
GOOD = ("--epochs", "4", "--image-size", "16")
WEAK = runs.WEAK  # a weak model, blessed by bounds of 0 (and by a change of -1 when allowed)


def _versions(output_dir):
  """The numbered versions in the serving dir, as TF Serving would list them."""
  base = os.path.join(output_dir, "serving_model")
  return sorted(n for n in os.listdir(base) if n.isdigit()) if os.path.isdir(base) else []


def _accuracy(model_dir, data):
  """The accuracy of a served version on (encoded image, label) pairs, asked directly."""
  signature = tf.saved_model.load(model_dir).signatures["serving_default"]
  predicted = signature(image_bytes=tf.constant([d for d, _ in data]))["classes"].numpy()
  return sum(p.decode() == label for p, (_, label) in zip(predicted, data)) / len(data)


def _read_rows(path):
  with open(path, newline="") as f:
    return list(csv.reader(f))


def _run_until(command, line_start, signum):
  """Starts a run, sends `signum` once a line starts with `line_start`; (returncode, output)."""
  process = subprocess.Popen(
    command, cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
  )
  lines = []
  for line in process.stdout:
    lines.append(line)
    if line.startswith(line_start):
      process.send_signal(signum)
      break
  rest, _ = process.communicate(timeout=300)
  return process.returncode, "".join(lines) + rest


@pytest.fixture(scope="module")
def story(tmp_path_factory):
  data_dir = str(tmp_path_factory.mktemp("data"))
  output_dir = str(tmp_path_factory.mktemp("out"))
  for digit, name in CLASSES.items():
    images.write_tree(os.path.join(data_dir, name), images.digit_files({digit: 30}, folder="."))
  infer_dir = str(tmp_path_factory.mktemp("unlabelled"))
  images.write_tree(infer_dir, images.digit_files({d: 5 for d in CLASSES}, skip=30, folder="."))
  steps = {"good": runs.run_local(data_dir, output_dir, NAME, *GOOD, "--infer-dir", infer_dir)}
  steps["csv"] = {
    name: _read_rows(os.path.join(output_dir, *parts))
    for name, parts in (
      ("report", ("report", "predictions.csv")),
      ("inference", ("inference", "predictions.csv")),
      ("to_label", ("inference", "to_label.csv")),
    )
  }
  steps["good_versions"] = _versions(output_dir)
  steps["again"] = runs.run_local(data_dir, output_dir, NAME, *GOOD, "--infer-dir", infer_dir)
  steps["again_versions"] = _versions(output_dir)
  command = local_runner_command(data_dir, output_dir, NAME, *WEAK, "--change-threshold", "-1")
  steps["stopped"] = _run_until(command, "[pipeline] TFLiteExport ...", signal.SIGTERM)
  with open(os.path.join(output_dir, "run_summary.json")) as f:
    steps["stopped_summary"] = json.load(f)
  steps["stopped_versions"] = _versions(output_dir)
  steps["weak"] = runs.run_local(data_dir, output_dir, NAME, *WEAK)
  steps["weak_versions"] = _versions(output_dir)
  steps["gate_images"] = records.images_and_labels(
    records.split_examples(records.newest_examples(output_dir), "eval")
  )
  return output_dir, steps


def test_a_good_model_is_pushed_and_its_record_says_so(story):
  output_dir, steps = story
  result, summary = steps["good"]
  assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
  assert summary["status"] == "pushed" and summary["serving"]["new_version"] is True
  assert steps["good_versions"] == [summary["pushed_version"]]
  assert summary["serving"]["version_before"] is None
  assert summary["models"]["baseline"] is None
  assert summary["models"]["baseline_reason"] == "no model served yet"
  states = runs.mlmd_states(output_dir, NAME, summary["run_id"])
  assert {states[n] for n in ("Trainer", "Evaluator", "TFLiteExport")} == {"COMPLETE"}
  assert {s["state"] for s in summary["stages"].values()} == {"ran"}
  assert "  baseline: none (no model served yet): thresholds only" in result.stdout


def test_formula_like_class_names_are_neutralised_in_every_csv(story):
  """A cell that begins with =, +, - or @ gets a leading ' (OWASP's rule); the class names
  themselves, the model's labels.txt and class_names, stay as they are."""
  _, steps = story
  summary = steps["good"][1]
  assert summary["classes"] == sorted(CLASSES.values())
  with open(os.path.join(summary["pushed_model_path"], "assets.extra", "labels.txt")) as f:
    assert f.read().splitlines() == sorted(CLASSES.values())
  safe = {"'" + name for name in CLASSES.values()}
  report, inferred, to_label = (steps["csv"][k] for k in ("report", "inference", "to_label"))
  header = report[0]
  assert [h for h in header if h.startswith("p_")] == [f"p_{n}" for n in sorted(CLASSES.values())]
  for column in ("true_class", "predicted_class"):
    cells = {row[header.index(column)] for row in report[1:]}
    assert cells and cells <= safe, (column, cells)
  assert {row[inferred[0].index("predicted_class")] for row in inferred[1:]} <= safe
  assert len(inferred) - 1 == 20 and len(to_label) - 1 == 20  # every file scored, once
  assert {row[to_label[0].index("label")] for row in to_label[1:]} <= safe
  for rows in (report, inferred, to_label):  # no other cell starts a formula
    for row in rows:
      assert not [c for c in row if c and c[0] in "=+-@\t\r" and c not in safe], row


def test_the_same_command_twice_trains_evaluates_and_pushes_nothing_again(story):
  output_dir, steps = story
  (_, first), (result, summary) = steps["good"], steps["again"]
  assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
  assert summary["status"] == "unchanged" and summary["exit_code"] == 0
  assert steps["again_versions"] == steps["good_versions"]  # no new version on disk
  assert summary["pushed_version"] == first["pushed_version"]
  assert summary["serving"] == {
    "version_before": first["pushed_version"],
    "version": first["pushed_version"],
    "new_version": False,
  }
  assert summary["models"]["candidate_is_served"] is True
  # MLMD: nothing ran again to compare the model with itself; only the Pusher looked.
  states = runs.mlmd_states(output_dir, NAME, summary["run_id"])
  for node in ("ImageExampleGen", "Transform", "Trainer", "Evaluator", "TFLiteExport"):
    assert states[node] == "CACHED", node
    assert summary["stages"][node] == {
      "state": "cached",
      "seconds": summary["stages"][node]["seconds"],
      "reason": None,
      "from_run": first["run_id"],
    }
  assert states["ServingPusher"] == "COMPLETE"
  lines = result.stdout.splitlines()
  assert f"  training: cached from run {first['run_id']} (not run again)" in lines
  assert not any(line.startswith("  training: ") and "epochs" in line for line in lines)
  assert (
    f"  blessed: yes; no new data since run {first['run_id']}; serving version "
    f"{first['pushed_version']} unchanged" in lines
  )
  assert f"  evaluation: cached from run {first['run_id']}" in "\n".join(lines)


def test_a_weak_model_stopped_before_its_push_is_not_served(story):
  output_dir, steps = story
  status, output = steps["stopped"]
  summary = steps["stopped_summary"]
  assert status == 143, output[-3000:]
  assert (summary["status"], summary["failed_stage"]) == ("interrupted", "TFLiteExport")
  assert (summary["blessed"], summary["pushed_model_path"]) == (True, None)  # blessed, not pushed
  assert summary["stages"]["TFLiteExport"]["state"] == "interrupted"
  assert steps["stopped_versions"] == steps["good_versions"]
  states = runs.mlmd_states(output_dir, NAME, summary["run_id"])
  assert states["Trainer"] == states["Evaluator"] == "COMPLETE"  # trained and blessed


def test_the_rerun_compares_the_cached_weak_model_with_the_served_one_and_refuses_it(story):
  output_dir, steps = story
  result, summary = steps["weak"]
  good = steps["good"][1]
  assert result.returncode == 3, result.stdout[-2000:] + result.stderr[-3000:]
  assert summary["status"] == "not_blessed" and summary["pushed_model_path"] is None
  assert steps["weak_versions"] == steps["good_versions"]  # the good model is still served
  states = runs.mlmd_states(output_dir, NAME, summary["run_id"])
  assert states["Trainer"] == "CACHED"  # the weak model of the stopped run
  assert states["Evaluator"] == "COMPLETE"  # evaluated again: against the served model
  baseline = summary["models"]["baseline"]
  assert (baseline["uri"], baseline["version"]) == (good["model_path"], good["pushed_version"])
  assert baseline["run_id"] == good["run_id"]
  assert summary["model_path"] != good["model_path"]  # not compared with itself
  # The baseline's accuracy is the served version's own, asked of it on the gate images.
  served = os.path.join(output_dir, "serving_model", good["pushed_version"])
  measured = _accuracy(served, steps["gate_images"])
  assert summary["metrics"]["baseline"]["accuracy"] == pytest.approx(measured, abs=1e-4)
  change = summary["metrics"]["baseline"]["accuracy_change"]
  assert change < 0 and any("change vs. baseline" in g for g in summary["failed_gates"])
  assert summary["serving"]["version"] == good["pushed_version"]
  assert any(
    line.startswith(f"  baseline (the served model, version {good['pushed_version']}, ")
    for line in result.stdout.splitlines()
  )


def test_sigterm_a_second_after_start_leaves_a_fresh_interrupted_record(tmp_path):
  data_dir = str(tmp_path / "data")
  images.write_tree(data_dir, images.digit_files({0: 5, 1: 5}))
  output_dir = tmp_path / "out"
  output_dir.mkdir()
  older = {"run_id": "older", "status": "pushed", "pushed_model_path": "/s/1", "blessed": True}
  (output_dir / "run_summary.json").write_text(json.dumps(older))
  process = subprocess.Popen(
    local_runner_command(data_dir, str(output_dir), NAME),
    cwd=ROOT,
    text=True,
    stdout=subprocess.PIPE,
    stderr=subprocess.PIPE,
  )
  deadline = time.monotonic() + 60
  while not (output_dir / ".lock").exists() and time.monotonic() < deadline:
    time.sleep(0.05)  # the run holds the output dir: from now on it owes a record
  time.sleep(1)
  process.send_signal(signal.SIGTERM)
  _, stderr = process.communicate(timeout=120)
  assert process.returncode == 143, stderr[-3000:]
  summary = json.loads((output_dir / "run_summary.json").read_text())
  assert summary["run_id"] != "older"
  assert (summary["status"], summary["exit_code"]) == ("interrupted", 143)
  assert (summary["blessed"], summary["pushed_model_path"]) == (False, None)
  kept = [json.loads(open(p).read()) for p in glob.glob(str(output_dir / "runs" / "*.json"))]
  assert kept == [summary]
  during = f" during {summary['failed_stage']}" if summary["failed_stage"] else ""
  assert [line for line in stderr.splitlines() if line.startswith("error: ")] == [
    f"error: interrupted by SIGTERM{during}; the run stopped (no model version is left "
    "half-written)"
  ]
