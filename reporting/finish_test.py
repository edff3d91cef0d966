"""finish_run for the runs that end without a record to read: a summary with its status,
written atomically, kept under runs/, and one line saying why."""

import json
import os
import signal

import pytest

from components.drift_check.executor import DriftBlocked
from components.image_example_gen.errors import InputError
from reporting import finish, outcome
from reporting.build import RunContext
from schemas.outcomes import ExitCode, Status, exit_code
from schemas.run_record import LabelIssues, RunRecord

RUN_ID = "2026-12-06T07:00:00.123456"


def _context(tmp_path):
  return RunContext(pipeline_name="p", output_dir=str(tmp_path), data_dir="/data")


def _finish(tmp_path, end, record=None):
  said, errors = [], []
  result, status = finish.finish_run(
    _context(tmp_path), end, RUN_ID, run=record, say=said.append, error=errors.append
  )
  return result, status, said, errors


def _written(tmp_path):
  with open(tmp_path / "run_summary.json") as f:
    return json.load(f)


@pytest.mark.parametrize(
  "end, status, code",
  [
    (outcome.Outcome(Status.FAILED, error="ValueError: boom", stage="Trainer"), "failed", 1),
    (outcome.interrupted(signal.SIGINT, "Transform"), "interrupted", 130),
    (outcome.interrupted(signal.SIGTERM, "TFLiteExport"), "interrupted", 143),
    (outcome.Outcome(Status.INPUT_ERROR, error="only one class: cat"), "input_error", 2),
  ],
)
def test_every_early_end_replaces_an_older_summary_claiming_a_push(tmp_path, end, status, code):
  older = {
    "run_id": "older",
    "blessed": True,
    "pushed_model_path": "/serving/1",
    "status": "pushed",
  }
  (tmp_path / "run_summary.json").write_text(json.dumps(older))
  result, exit_status, said, errors = _finish(tmp_path, end)
  assert exit_status == code == result.exit_code
  written = _written(tmp_path)
  assert written == result.to_json()
  assert (written["status"], written["run_id"], written["blessed"]) == (status, RUN_ID, False)
  assert written["pushed_model_path"] is None
  assert written["failed_stage"] == (end.stage if status != "input_error" else None)
  assert written["error"] == end.error
  with open(finish.history_path(str(tmp_path), RUN_ID)) as f:
    assert json.load(f) == written
  assert os.path.basename(finish.history_path(str(tmp_path), RUN_ID)) == (
    "2026-12-06T070000.123456.json"
  )
  assert said == [] and len(errors) == 1
  assert written["report_dir"] is None and not (tmp_path / "report").exists()  # nothing to report
  assert [p for p in os.listdir(tmp_path) if "partial" in p] == []


def test_the_error_line_names_the_stage_and_the_signal(tmp_path):
  *_, errors = _finish(tmp_path, outcome.interrupted(signal.SIGTERM, "Transform"))
  assert errors == [
    "error: interrupted by SIGTERM during Transform; the run stopped (no model version is "
    "left half-written)"
  ]
  *_, errors = _finish(tmp_path, outcome.Outcome(Status.FAILED, error="OSError: disk full"))
  assert errors == ["error: pipeline failed: OSError: disk full"]


def test_an_input_error_keeps_the_counts_its_ingest_report_had(tmp_path):
  report = {
    "images_found": 12,
    "images_ingested": 0,
    "images_rejected": {"corrupt": 12},
    "rejected_files": [{"path": "/data/cat/a.png", "reason": "corrupt"}],
    "classes": ["cat", "dog"],
  }
  error = InputError("every image was rejected\nsee the list")
  error.report = report
  end = outcome.from_exception(RuntimeError("wrapped"), "ImageExampleGen")
  assert end.status == Status.FAILED  # nothing behind it
  try:
    raise RuntimeError("the component failed") from error
  except RuntimeError as e:
    end = outcome.from_exception(e, "ImageExampleGen")
  result, status, _, errors = _finish(tmp_path, end)
  assert (status, result.status) == (2, "input_error")
  assert (result.images_found, result.images_rejected) == (12, {"corrupt": 12})
  assert result.classes == ["cat", "dog"]
  assert errors == ["error: every image was rejected"]


def test_outcomes_found_behind_other_exceptions():
  blocked = DriftBlocked("drift", {"drifted": ["image/width"], "on_drift": "block"})
  try:
    try:
      raise blocked
    except DriftBlocked as e:
      raise RuntimeError("component DriftCheck failed") from e
  except RuntimeError as e:
    end = outcome.from_exception(e, "DriftCheck")
  assert end.drift_report == blocked.report and not end.completed
  failed = outcome.from_exception(KeyError("x"), "Trainer")
  assert (failed.status, failed.error, failed.stage) == ("failed", "KeyError: 'x'", "Trainer")
  assert exit_code(Status.PUSHED) == exit_code(Status.UNCHANGED) == ExitCode.OK == 0
  assert exit_code(Status.NOT_BLESSED) == 3
  assert exit_code(Status.INTERRUPTED, signal.SIGTERM) == 143


def test_an_unreadable_record_of_a_failed_run_still_gives_a_summary(tmp_path):
  def broken():
    raise OSError("file is not a database")

  result, status, _, errors = _finish(
    tmp_path, outcome.Outcome(Status.FAILED, error="OSError: file is not a database"), broken
  )
  assert (status, _written(tmp_path)["status"]) == (1, "failed")
  assert errors == ["error: pipeline failed: OSError: file is not a database"]
  with pytest.raises(OSError):  # a completed run's record must be readable
    _finish(tmp_path, outcome.Outcome(), broken)


def test_an_unwritable_output_dir_still_says_why_the_run_ended(tmp_path):
  blocker = tmp_path / "file"
  blocker.write_text("")
  context = RunContext(pipeline_name="p", output_dir=str(blocker / "out"))
  errors = []
  result, status = finish.finish_run(
    context, outcome.Outcome(Status.FAILED, error="E: x"), RUN_ID, error=errors.append
  )
  assert status == 1 and result.log.startswith("not written (")
  assert errors == [f"error: pipeline failed: E: x (details: {result.log})"]


def test_a_record_with_label_issues_is_read_back_as_written():
  record = RunRecord(
    "p",
    RUN_ID,
    label_issues=LabelIssues(
      out_of_fold="/out/pipeline/LabelIssues/model_run/9",
      folds=3,
      images={"train": 8, "eval": 2},
      issues=1,
      by_split={"train": 1},
      file="label_issues.csv",
      top=[{"path": "a/1.png", "split": "train", "given_label": "a", "rank": 1}],
    ),
  )
  again = RunRecord.from_json(json.loads(json.dumps(record.to_json())))
  assert again.label_issues == record.label_issues
  assert RunRecord.from_json(RunRecord("p", RUN_ID).to_json()).label_issues is None
