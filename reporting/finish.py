"""The end of every run, whatever ended it: one summary written, the report published, a few
lines printed. local_runner.py, tools/spec_runner.py and the RunReport executor all end here.

run_summary.json is replaced atomically (written beside, then renamed over) so that no reader
sees half a file, and no run leaves an earlier run's summary in place; every run's summary is
also kept as <output dir>/runs/<run id>.json.
"""

import json
import os
import re
import sys
import time
import uuid
from typing import Any, Callable, Dict, Optional, Tuple

from reporting import console_text, inference, predictions, publish
from reporting import outcome as outcomes
from reporting import summary as summaries
from reporting.outcome import Outcome
from reporting.summary import RunContext


def _stderr(line: str) -> None:
  print(line, file=sys.stderr, flush=True)


def _stdout(line: str) -> None:
  print(line, flush=True)


def _gfile():
  import tensorflow as tf  # pylint: disable=import-outside-toplevel

  return tf.io.gfile


def write_json(path: str, data: Dict[str, Any]) -> None:
  """Writes `path` atomically: a temporary file in the same folder, renamed over it."""
  text = json.dumps(data, indent=2)
  if "://" in path:  # gs:// and other remote file systems: TensorFlow's rename
    gfile = _gfile()
    gfile.makedirs(os.path.dirname(path))
    partial = f"{path}.{uuid.uuid4().hex}.partial"
    with gfile.GFile(partial, "w") as f:
      f.write(text)
    gfile.rename(partial, path, overwrite=True)
    return
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  partial = f"{path}.{os.getpid()}.partial"
  with open(partial, "w") as f:
    f.write(text)
    f.flush()
    os.fsync(f.fileno())
  os.replace(partial, path)


def history_path(output_dir: str, run_id: str) -> str:
  """<output dir>/runs/<run id>.json, the run id made a safe file name."""
  return os.path.join(
    output_dir, summaries.RUNS_DIR, re.sub(r"[^A-Za-z0-9._-]", "", run_id) + ".json"
  )


def build(context: RunContext, end: Outcome, run_id: str, record=None) -> Dict[str, Any]:
  """The run's summary: read from its record when ImageExampleGen's output is there (`record`:
  a record or a function returning one, reporting/record.py), else from what the process saw;
  with status, the stage that failed and the error's line."""
  result = None
  if end.status != outcomes.INPUT_ERROR and record is not None:
    try:
      record = record() if callable(record) else record
      if record is not None and record.output("ImageExampleGen", "examples") is not None:
        result = summaries.collect(context, record)
    except Exception as e:  # pylint: disable=broad-except  (a failed run's record may be broken)
      if end.completed or end.drift_report is not None:
        raise
      import logging  # pylint: disable=import-outside-toplevel

      logging.warning("the run's record could not be read: %s", e, exc_info=e)
  if result is None:
    result = summaries.early(context, run_id, end.input_report)
  result["run_id"] = run_id
  if end.drift_report is not None:
    summaries.add_drift_block(result, end.drift_report)
  status = end.status or summaries.status(result)
  result.update(
    status=status,
    exit_code=outcomes.exit_status(status, end.signum),
    failed_stage=end.stage if status in (outcomes.FAILED, outcomes.INTERRUPTED) else None,
    error=end.error or result.get("push_error"),
    finished_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
  )
  return result


def finish_run(
  context: RunContext,
  end: Outcome,
  run_id: str,
  record=None,
  extra: Optional[Dict[str, Any]] = None,
  say: Callable[[str], None] = _stdout,
  error: Callable[[str], None] = _stderr,
  note: Optional[Callable[[str], None]] = None,
) -> Tuple[Dict[str, Any], int]:
  """Builds the summary, publishes the report when there is an evaluation, writes
  run_summary.json and its copy under runs/ (when the context has an output dir) and prints
  the summary (a completed run: `say`, then where it went: `note`) or one error line
  (`error`); returns (summary, exit status)."""
  result = build(context, end, run_id, record)
  result.update(extra or {})
  if result.get("inference") and context.output_dir:
    try:  # BulkInferrer's PredictionLogs as <output dir>/inference/predictions.csv
      result["inference"] = inference.write_csv(result["inference"], context.output_dir)
    except Exception as e:  # pylint: disable=broad-except  (the run's own summary comes first)
      result["inference"]["csv_error"] = str(e)
  if context.output_dir and (
    result.get("metrics") or result["status"] in (outcomes.PUSHED, outcomes.NOT_BLESSED)
  ):  # a run that got to the end, or that DriftCheck stopped: its report (card, plots)
    started = time.monotonic()
    scored = predictions.for_summary(result)
    if scored is not None:
      result["predictions"] = predictions.summary_block(scored)
    summaries.add_ensemble_block(result, predictions.member_accuracies(scored) if scored else [])
    result["report_dir"] = publish.publish(
      result, context.output_dir, context.serving_model_dir, scored
    )
    result["report_seconds"] = round(time.monotonic() - started, 1)
  written = None
  if context.output_dir:
    try:
      write_json(context.summary_path, result)
      write_json(history_path(context.output_dir, run_id), result)
      written = context.summary_path
    except OSError as e:  # an unwritable output dir must not hide why the run ended
      result["log"] = f"not written ({e})"
  _tell(result, written, say, note or say, error)
  return result, result["exit_code"]


def _tell(result: Dict[str, Any], written: Optional[str], say, note, error) -> None:
  status, log = result["status"], result.get("log")
  details = f" (details: {log})" if log else ""
  if status in (outcomes.PUSHED, outcomes.NOT_BLESSED) or result.get("push_error"):
    say(console_text.format_summary(result))
    if written:
      note(
        f"summary written to {written}"
        + (f"; report in {result['report_dir']}" if result.get("report_dir") else "")
      )
    if result.get("push_error"):
      error(f"error: {result['push_error']}")
    return
  if status == outcomes.INPUT_ERROR:
    error(f"error: {result['error'].splitlines()[0]}{details}")
  elif status == outcomes.INTERRUPTED:
    stage = f" during {result['failed_stage']}" if result.get("failed_stage") else ""
    error(
      f"error: {result['error']}{stage}; the run stopped (no model version is left half-written)"
    )
  else:
    stage = f" in {result['failed_stage']}" if result.get("failed_stage") else ""
    error(f"error: pipeline failed{stage}: {result['error']}{details}")
