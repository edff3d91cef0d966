"""Four scheduled days in one output dir, as a daily schedule runs local_runner.py on a
`day-{SPAN}` path: day 1 cold; day 2 the same distribution, trained on a window of two spans
from the day-1 model's weights; day 3 one class gone and another tripled: the drift is named,
and with --on-drift block the run stops before training (exit 3); day 4 back to normal pushes.
Each summary is checked against the files and records on disk."""

import glob
import os
import re

import pytest

from reporting import escape
from tests import images, records, runs, schedule

pytestmark = pytest.mark.e2e

NAME = "daily"


def _versions(output_dir):
  return sorted(glob.glob(os.path.join(output_dir, "serving_model", "[0-9]*")))


def _run(data, out, *flags):
  # Exports are tested in pipeline_e2e and on the spec runner's day 1.
  result, summary = runs.run_local(data, out, NAME, *schedule.FLAGS, "--export", "none", *flags)
  assert result.returncode in (0, 3), result.stdout[-3000:] + result.stderr[-3000:]
  return result, summary


def _check_against_disk(summary, day_folder):
  """Counts against the files on disk and the records ImageExampleGen wrote."""
  assert summary["images_found"] == images.count_files(day_folder)
  for split, written in summary["splits"].items():
    assert len(records.split_examples(summary["examples_path"], split)) == written


def _trainer_images(stdout):
  """(train, eval) images the Trainer read, from its cache line."""
  return tuple(map(int, re.search(r"\(train (\d+), eval (\d+) images", stdout).groups()))


def test_four_scheduled_days_learn_over_time_and_name_the_drift(tmp_path):
  data, out = str(tmp_path / "spans"), str(tmp_path / "out")
  path = os.path.join(data, "day-{SPAN}")

  # Day 1: the first span, trained from scratch.
  day1 = schedule.write_day(data, 1)
  result, first = _run(path, out, "--span-window", "2")
  assert result.returncode == 0, result.stdout[-3000:]
  _check_against_disk(first, day1)
  assert (first["span"], first["spans"]) == (1, [1]) and first["data_dir"] == path
  assert "  span: 1 ingested; trained on span 1" in result.stdout
  assert first["drift"]["baseline"] is None
  assert "[DriftCheck] no earlier statistics to compare with (first run)" in result.stdout
  assert "  drift:" not in result.stdout  # the summary does not say it twice
  assert first["training"]["warm_start"] == {
    "from": None,
    "reason": "no blessed model to start from",
    "epochs": 6,
    "learning_rate_factor": 1.0,
  }
  assert _trainer_images(result.stdout) == (first["splits"]["train"], first["splits"]["eval"])
  assert first["pushed_model_path"] and first["pushed_regression"] is None

  # Day 2: the same distribution; two spans, warm-started from the day-1 model.
  day2 = schedule.write_day(data, 2)
  result, second = _run(path, out, "--span-window", "2")
  assert result.returncode == 0, result.stdout[-3000:]
  _check_against_disk(second, day2)
  assert (second["span"], second["spans"]) == (2, [2, 1])
  assert "  span: 2 ingested; trained on spans 2, 1" in result.stdout
  assert _trainer_images(result.stdout) == (
    first["splits"]["train"] + second["splits"]["train"],
    first["splits"]["eval"] + second["splits"]["eval"],
  )
  drift = second["drift"]
  assert drift["baseline"]["span"] == 1 and drift["drifted"] == []
  assert "  drift: none against the previous run's data (span 1)" in result.stdout
  label = next(f for f in drift["features"] if f["feature"] == "label")
  measured = schedule.l_infinity(
    schedule.label_shares(second["examples_path"]), schedule.label_shares(first["examples_path"])
  )
  assert label["distance"] == pytest.approx(measured, abs=1e-4)
  warm = second["training"]["warm_start"]
  assert warm["from"].startswith(first["model_path"]) and warm["epochs"] == 2
  assert second["training"]["epochs"] == 2
  assert warm["learning_rate_factor"] == 0.1
  assert (
    f"[Trainer] warm start from the last blessed model ({warm['from']}): 2 epochs at 0.1x "
    "the learning rate"
  ) in result.stdout
  # Judged on today's data against the served model: not worse (the default change bound 0).
  baseline = second["metrics"]["baseline"]
  assert baseline["model"].startswith(first["model_path"]) and baseline["accuracy_change"] >= 0
  assert second["thresholds"]["change"] == 0.0
  with open(os.path.join(second["report_dir"], "model_card.md")) as f:
    card = f.read()
  assert "- Span: 2 ingested; trained on spans 2, 1" in card
  started = (
    f"Warm start: from the last blessed model (run {first['run_id']}), 2 epochs at 0.1x the "
    "learning rate"
  )
  assert f"- {escape.markdown(started)}" in card  # the path's '_' escaped for Markdown

  # Day 3: class 3 vanished, class 0 tripled. With block, the run stops before training.
  day3 = schedule.write_day(data, 3)
  pushed = _versions(out)
  result, blocked = _run(path, out, "--span-window", "2", "--on-drift", "block")
  assert result.returncode == 3, result.stdout[-3000:]
  _check_against_disk(blocked, day3)
  assert blocked["span"] == 3 and blocked["blessed"] is False
  assert blocked["pushed_model_path"] is None and _versions(out) == pushed
  assert "Trainer" not in blocked["stage_seconds"] and "Transform" not in blocked["stage_seconds"]
  assert blocked["stage_states"]["DriftCheck"] == "blocked"
  assert blocked["stages"]["DriftCheck"]["reason"] == "drift in span 3"
  assert "  span: 3 ingested; not trained: drift blocked span 3" in result.stdout
  assert not any(line.startswith("  training:") for line in result.stdout.splitlines())
  label = next(f for f in blocked["drift"]["features"] if f["feature"] == "label")
  measured = schedule.l_infinity(
    schedule.label_shares(blocked["examples_path"]), schedule.label_shares(second["examples_path"])
  )
  assert label["distance"] == pytest.approx(measured, abs=1e-4) and measured > 0.1
  assert label["drifted"] and blocked["drift"]["baseline"]["span"] == 2
  line = f"label: L-infinity distance {label['distance']:.4f} > 0.1"
  lines = blocked["drift"]["lines"]  # the class mix also moves the brightness histogram
  assert line in lines and set(blocked["drift"]["drifted"]) <= {"label", "brightness"}
  assert len(lines) == len(blocked["drift"]["drifted"])
  for drifted in lines:
    assert (
      f"  drift against the previous run's data (span 2) (blocked the run): {drifted}"
      in result.stdout
    )
  assert blocked["failed_gates"] == [f"drift: {d} (--on-drift block)" for d in lines]
  assert f"  failed gate: drift: {line} (--on-drift block)" in result.stdout
  with open(os.path.join(blocked["report_dir"], "model_card.md")) as f:
    card = f.read()
  assert "- Not evaluated: the run stopped before the Evaluator" in card
  assert "- FAILED: " + escape.markdown(f"drift: {line} (--on-drift block)") in card

  # The same day with warnings only (the default): still compared with span 2, and trained.
  # A negative change bound pushes it whatever it scores; a worse model then says so.
  result, warned = _run(path, out, "--span-window", "2", "--change-threshold", "-1")
  assert result.returncode == 0, result.stdout[-3000:]
  assert warned["drift"]["baseline"]["span"] == 2 and warned["drift"]["lines"] == lines
  assert f"  drift against the previous run's data (span 2) (warning): {line}" in result.stdout
  assert warned["stage_states"]["Trainer"] == "ran" and warned["spans"] == [3, 2]
  assert warned["models"]["baseline"]["version"] == second["pushed_version"]  # the served one
  change = warned["metrics"]["baseline"]["accuracy_change"]
  assert warned["pushed_regression"] == (change if change < 0 else None)
  assert ("  regression: the pushed model is" in result.stdout) == (change < 0)
  with open(os.path.join(warned["report_dir"], "model_card.md")) as f:
    warned_line = f"Drift against the previous run's data (span 2) (warning): {line}"
    assert f"- {escape.markdown(warned_line)}" in f.read()

  # Day 4: back to normal; pushed, warm-started from the last blessed model.
  day4 = schedule.write_day(data, 4)
  result, fourth = _run(path, out, "--span-window", "2")
  assert result.returncode == 0, result.stdout[-3000:]
  _check_against_disk(fourth, day4)
  assert (fourth["span"], fourth["spans"]) == (4, [4, 3])
  assert fourth["drift"]["baseline"]["span"] == 3
  assert fourth["training"]["warm_start"]["from"] is not None
  assert fourth["metrics"]["baseline"]["accuracy_change"] >= 0
  assert os.path.isfile(os.path.join(fourth["pushed_model_path"], "saved_model.pb"))
  assert _versions(out)[-1] == fourth["pushed_model_path"]
