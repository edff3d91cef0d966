"""Every run leaves its own run_summary.json, however it ends: local_runner.py on a corrupt
metadata store (exit 1) and on bad input (exit 2), with an earlier run's summary claiming a push
in the same output dir. (Interrupts: tests/evaluation_e2e_test.py; blessed, not blessed and
drift-blocked runs: the other e2e tests.)"""

import glob
import json
import os

import pytest

from tests import images, runs

pytestmark = pytest.mark.integration


@pytest.fixture
def earlier(tmp_path):
  """An output dir whose run_summary.json (an earlier run's) claims a push."""
  output_dir = tmp_path / "out"
  output_dir.mkdir()
  claim = {"run_id": "earlier", "status": "pushed", "blessed": True, "pushed_model_path": "x"}
  (output_dir / "run_summary.json").write_text(json.dumps(claim))
  return str(output_dir)


def _history(output_dir):
  found = glob.glob(os.path.join(output_dir, "runs", "*.json"))
  assert len(found) == 1, found
  with open(found[0]) as f:
    return json.load(f)


def test_a_corrupt_metadata_store_fails_the_run_with_its_own_summary(tmp_path, earlier):
  data_dir = str(tmp_path / "data")
  images.write_tree(data_dir, images.digit_files({0: 5, 1: 5}))
  with open(os.path.join(earlier, "metadata.db"), "w") as f:
    f.write("this is not a SQLite database\n" * 100)
  result, summary = runs.run_local(data_dir, earlier, "record-e2e", timeout=600)
  assert result.returncode == 1, result.stderr[-3000:]
  assert (summary["status"], summary["exit_code"]) == ("failed", 1)
  assert summary["run_id"] != "earlier" and summary["blessed"] is False
  assert summary["pushed_model_path"] is None
  errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
  store = os.path.join(earlier, "metadata.db")
  assert summary["error"] == (
    f"StoreError: {store} is not a readable metadata store (not an SQLite database): move it "
    "away, or choose another --output-dir, to start afresh"
  )
  assert summary["failed_stage"] is None  # found before the first stage
  assert errors == [f"error: pipeline failed: {summary['error']} (details: {summary['log']})"], (
    result.stderr[-2000:]
  )
  assert os.path.isfile(summary["log"])
  assert _history(earlier) == summary


def test_bad_input_ends_with_a_summary_of_what_was_found(tmp_path, earlier):
  data_dir = str(tmp_path / "data")
  images.write_tree(data_dir, images.digit_files({0: 5}))  # one class: nothing to learn
  result, summary = runs.run_local(data_dir, earlier, "record-e2e", timeout=600)
  assert result.returncode == 2, result.stderr[-3000:]
  assert (summary["status"], summary["exit_code"], summary["failed_stage"]) == (
    "input_error",
    2,
    None,
  )
  assert "at least two classes" in summary["error"]
  assert summary["pushed_model_path"] is None
  assert _history(earlier) == summary
  assert not os.path.exists(os.path.join(earlier, "metadata.db"))  # no run was started
