"""Evaluation and serving that tell the truth, through local_runner on real digits.

One output dir is taken through the runs a team makes: a weak first model (every bound 0), the
same classes with other frequencies (while a second run is refused the dir), a cached re-run
after the serving dir was deleted, and a new class next to the blessed baseline. A separate run
is interrupted with SIGINT, another with SIGTERM.
"""

import glob
import json
import os
import signal
import subprocess

import numpy as np
import pytest
import tensorflow as tf

from tests import images, records, runs
from tools.runner import local_runner_command

pytestmark = pytest.mark.e2e

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAMES = {0: "zebra", 1: "ant", 2: "moth", 3: "Owl"}  # sorted: Owl, ant, moth, zebra
WEAK = (*runs.WEAK, "--change-threshold", "-1")  # any weak model is pushed
WEAK += ("--export", "none")  # exports are tested in pipeline_e2e


def add_digits(root, per_class):
  """Adds `per_class[d]` more real digit PNGs of digit d, under NAMES[d], to the tree."""
  taken = {d: len(glob.glob(os.path.join(root, NAMES[d], "*.png"))) for d in per_class}
  wanted = {d: taken[d] + n for d, n in per_class.items()}
  seen = {d: 0 for d in per_class}
  files = {}
  for i, (pixels, digit) in enumerate(images.digit_pixels(1797)):
    if digit in wanted and seen[digit] < wanted[digit]:
      if seen[digit] >= taken[digit]:
        files[f"{NAMES[digit]}/digit_{i:04d}.png"] = images.encode(pixels, "png")
      seen[digit] += 1
  images.write_tree(root, files)


def command(data_dir, output_dir, *flags):
  return local_runner_command(data_dir, output_dir, "truth-e2e", *flags)


def run(data_dir, output_dir, *flags):
  return runs.run_local(data_dir, output_dir, "truth-e2e", *flags, timeout=900)


def gate_split_images(output_dir):
  """(encoded image, label) of the newest ExampleGen output's eval split."""
  return records.images_and_labels(
    records.split_examples(records.newest_examples(output_dir), "eval")
  )


def served(summary, data):
  """What the pushed model says of these images, asked right after its run: (top-1 classes,
  class_names, labels.txt), or None when the summary's pushed path holds no SavedModel."""
  path = summary["pushed_model_path"]
  if not path or not os.path.isfile(os.path.join(path, "saved_model.pb")):
    return None
  outputs = tf.saved_model.load(path).signatures["serving_default"](image_bytes=tf.constant(data))
  with open(os.path.join(path, "assets.extra", "labels.txt")) as f:
    labels = f.read().splitlines()
  return (
    [c.decode() for c in outputs["classes"].numpy()],
    [c.decode() for c in outputs["class_names"].numpy()[0]],
    labels,
  )


@pytest.fixture(scope="module")
def team(tmp_path_factory):
  """The sequence of runs in one output dir; each step's (result, summary) by name."""
  data_dir = str(tmp_path_factory.mktemp("data"))
  output_dir = str(tmp_path_factory.mktemp("out"))
  steps = {}
  add_digits(data_dir, {0: 60, 1: 20, 2: 40})  # by frequency: zebra, moth, ant
  steps["weak"] = run(data_dir, output_dir, *WEAK)
  steps["weak_images"] = gate_split_images(output_dir)
  steps["weak_served"] = served(steps["weak"][1], [d for d, _ in steps["weak_images"]])
  add_digits(data_dir, {1: 70})  # now ant is the most frequent
  second = subprocess.Popen(
    command(data_dir, output_dir, *WEAK),
    cwd=ROOT,
    text=True,
    stdout=subprocess.PIPE,
    stderr=subprocess.PIPE,
  )
  first_line = second.stdout.readline()  # printed once it holds the output dir's lock
  assert first_line.startswith("[local_runner] log: "), first_line + second.stderr.read()
  steps["refused"] = (
    subprocess.run(
      command(data_dir, output_dir, *WEAK), cwd=ROOT, capture_output=True, text=True, timeout=300
    ),
    second.pid,
  )
  stdout, stderr = second.communicate(timeout=900)
  stdout = first_line + stdout
  with open(os.path.join(output_dir, "run_summary.json")) as f:
    steps["reordered"] = (
      subprocess.CompletedProcess(second.args, second.returncode, stdout, stderr),
      json.load(f),
    )
  steps["reordered_served"] = served(steps["reordered"][1], [steps["weak_images"][0][0]])
  tf.io.gfile.rmtree(os.path.join(output_dir, "serving_model"))
  steps["deleted"] = run(data_dir, output_dir, *WEAK)
  add_digits(data_dir, {3: 40})
  steps["new_class"] = run(data_dir, output_dir, *WEAK)
  return output_dir, steps


def test_a_weak_model_with_every_bound_0_is_pushed_with_figures_equal_to_its_matrix(team):
  _, steps = team
  result, summary = steps["weak"]
  assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
  assert summary["blessed"] and steps["weak_served"] is not None  # pushed, and on disk
  predicted, class_names, _ = steps["weak_served"]
  truth = [label for _, label in steps["weak_images"]]
  assert class_names == summary["classes"] == ["ant", "moth", "zebra"]
  metrics = summary["metrics"]
  assert metrics["accuracy"] == pytest.approx(np.mean(np.array(truth) == predicted), abs=1e-4)
  assert metrics["accuracy"] < 1.0  # a weak model: it makes mistakes
  for i, name in enumerate(class_names):
    hits = sum(t == p == name for t, p in zip(truth, predicted))
    images_, said = truth.count(name), predicted.count(name)
    figures = metrics["per_class"][name]
    assert (figures["images"], figures["predicted"]) == (images_, said)
    assert metrics["confusion_matrix"]["counts"][i][i] == hits
    assert figures["recall"] == pytest.approx(hits / images_, abs=1e-4)
    assert figures["precision"] == pytest.approx(hits / said if said else 0.0, abs=1e-4)
    assert figures["never_predicted"] == (said == 0)
  # Each class has fewer than 30 eval images; with bounds of 0 nothing is gated: no warning.
  assert summary["metric_warnings"] == []
  assert "(top-1)" in result.stdout


def test_class_order_is_the_same_in_two_versions_whose_frequencies_differ(team):
  _, steps = team
  (_, first), (result, second) = steps["weak"], steps["reordered"]
  assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
  assert second["pushed_version"] != first["pushed_version"]
  counts = {c: n["written"] for c, n in second["split_details"]["train"]["classes"].items()}
  assert max(counts, key=counts.get) == "ant"  # was the rarest in the first run
  for summary, (_, class_names, labels) in (
    (first, steps["weak_served"]),
    (second, steps["reordered_served"]),
  ):
    assert (
      class_names
      == labels
      == summary["classes"]
      == summary["metrics"]["confusion_matrix"]["classes"]
      == list(summary["metrics"]["per_class"])
      == ["ant", "moth", "zebra"]
    )


def test_a_second_run_on_the_same_output_dir_is_refused_at_once(team):
  output_dir, steps = team
  refused, holder = steps["refused"]
  assert refused.returncode == 2
  assert refused.stderr.strip().splitlines()[-1] == (
    f"error: another run (pid {holder}) is using {output_dir}; wait for it to end, pass "
    "--wait, or choose another --output-dir"
  )
  assert "Traceback" not in refused.stderr


def test_a_deleted_serving_dir_is_pushed_again(team):
  _, steps = team
  result, summary = steps["deleted"]
  assert result.returncode == 0, result.stderr[-3000:]
  assert summary["stage_states"]["Trainer"] == "cached"
  assert summary["stage_states"]["ServingPusher"] == "ran"
  assert summary["status"] == "pushed" and summary["serving"]["new_version"] is True
  assert os.path.isfile(os.path.join(summary["pushed_model_path"], "saved_model.pb"))


def test_a_new_class_skips_the_baseline_comparison_with_one_line(team):
  output_dir, steps = team
  result, summary = steps["new_class"]
  assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
  assert summary["classes"] == ["Owl", "ant", "moth", "zebra"]
  skipped = summary["metrics"]["baseline_skipped"]
  assert skipped["reason"] == "added Owl"
  assert skipped["model"] == steps["deleted"][1]["model_path"]
  assert "baseline" not in summary["metrics"]
  assert (
    "  baseline comparison skipped: the served model's classes differ (added Owl)"
    in result.stdout.splitlines()
  )
  with open(os.path.join(output_dir, "report", "model_card.md")) as f:
    assert "- Baseline comparison skipped: the served model's classes differ (added Owl)" in (
      f.read()
    )


# SIGINT here; SIGTERM (143) during TFLiteExport and in the first second: served_baseline_e2e.
@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130)])
def test_an_interrupt_ends_the_run_with_one_line_and_its_status(tmp_path, signum, status):
  data_dir = str(tmp_path / "data")
  add_digits(data_dir, {0: 30, 1: 30})
  process = subprocess.Popen(
    command(data_dir, str(tmp_path / "out"), *WEAK),
    cwd=ROOT,
    text=True,
    stdout=subprocess.PIPE,
    stderr=subprocess.STDOUT,
  )
  lines = []
  for line in process.stdout:  # wait until the pipeline is inside a Beam stage
    lines.append(line)
    if line.startswith("[pipeline] Transform ..."):
      break
  else:
    pytest.fail("the run ended without starting Transform:\n" + "".join(lines[-20:]))
  process.send_signal(signum)
  rest, _ = process.communicate(timeout=120)
  assert process.returncode == status, "".join(lines[-20:]) + rest[-3000:]
  errors = [line for line in rest.splitlines() if line.startswith("error: ")]
  assert errors == [
    f"error: interrupted by {signum.name} during Transform; the run stopped (no model version "
    "is left half-written)"
  ]
  assert "Traceback" not in rest
  assert not os.path.exists(tmp_path / "out" / "serving_model")
  # The run's record says so, and the ingest counts it got to, checked against the files.
  with open(tmp_path / "out" / "run_summary.json") as f:
    summary = json.load(f)
  assert (summary["status"], summary["exit_code"], summary["failed_stage"]) == (
    "interrupted",
    status,
    "Transform",
  )
  assert (summary["blessed"], summary["pushed_model_path"]) == (False, None)
  assert summary["images_ingested"] == len(glob.glob(os.path.join(data_dir, "*", "*.png")))
  (history,) = glob.glob(str(tmp_path / "out" / "runs" / "*.json"))
  with open(history) as f:
    assert json.load(f) == summary
