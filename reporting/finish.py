"""The end of every run, whatever ended it: one record built, the report published, the record
written as run_summary.json, a few lines printed. local_runner.py, tools/spec_runner.py, the
RunReport executor and the Kubeflow exit handler all end here.

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

from reporting import build as builder
from reporting import (
  console_text,
  explanations,
  label_issues,
  prediction_drift,
  predictions,
  publish,
)
from reporting.build import RunContext
from reporting.outcome import Outcome
from schemas import filenames
from schemas.outcomes import Status
from schemas.run_record import RunRecord


def _stderr(line: str) -> None:
  print(line, file=sys.stderr, flush=True)


def _stdout(line: str) -> None:
  print(line, flush=True)


def write_json(path: str, data: Dict[str, Any]) -> None:
  """Writes `path` atomically: a temporary file in the same folder, renamed over it."""
  text = json.dumps(data, indent=2)
  if "://" in path:  # gs:// and other remote file systems: TensorFlow's rename
    import tensorflow as tf  # noqa: PLC0415  (local runs never need it here)

    tf.io.gfile.makedirs(os.path.dirname(path))
    partial = f"{path}.{uuid.uuid4().hex}.partial"
    with tf.io.gfile.GFile(partial, "w") as f:
      f.write(text)
    tf.io.gfile.rename(partial, path, overwrite=True)
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
    output_dir, filenames.RUNS_DIR, re.sub(r"[^A-Za-z0-9._-]", "", run_id) + ".json"
  )


def write_record(context: RunContext, record: RunRecord) -> Optional[str]:
  """run_summary.json and its copy under runs/; the summary's path, or None when the output
  dir cannot be written (the record then names why in `log`)."""
  if not context.output_dir:
    return None
  try:
    write_json(context.summary_path, record.to_json())
    write_json(history_path(context.output_dir, record.run_id), record.to_json())
    return context.summary_path
  except OSError as e:  # an unwritable output dir must not hide why the run ended
    record.log = f"not written ({e})"
    return None


def finish_run(
  context: RunContext,
  end: Outcome,
  run_id: str,
  run=None,
  extra: Optional[Dict[str, Any]] = None,
  say: Callable[[str], None] = _stdout,
  error: Callable[[str], None] = _stderr,
  note: Optional[Callable[[str], None]] = None,
) -> Tuple[RunRecord, int]:
  """Builds the record (`run`: the run's executions, or a function returning them), publishes
  the report when there is an evaluation, writes run_summary.json and its copy under runs/
  (when the context has an output dir) and prints the summary (a completed run: `say`, then
  where it went: `note`) or one error line (`error`); returns (record, exit status)."""
  record = builder.build(context, end, run_id, run)
  for key, value in (extra or {}).items():
    setattr(record, key, value)
  if record.inference and context.output_dir:
    from reporting import inference  # noqa: PLC0415  (TensorFlow: only with --infer-dir)

    try:  # BulkInferrer's PredictionLogs as <output dir>/inference/predictions.csv, to_label.csv
      record.inference = inference.write_csv(
        record.inference, context.output_dir, context.label_budget
      )
    except Exception as e:  # noqa: BLE001  (the run's own summary comes first)
      record.inference["csv_error"] = str(e)
    if record.inference.get("predicted_classes"):
      record.inference["prediction_drift"] = prediction_drift.compare(
        record.inference,
        prediction_drift.previous_run(context.output_dir, record.run_id),
        context.prediction_drift_thresholds,
      )
  if context.output_dir and record.status is not Status.INTERRUPTED:
    if record.metrics or record.completed:  # it got to the end, DriftCheck stopped it, or it
      report(record, context)  # failed after the Evaluator
  written = write_record(context, record)
  _tell(record, written, say, note or say, error)
  return record, record.exit_code


def report(record: RunRecord, context: RunContext) -> None:
  """The report's files (card, plots, predictions.csv, galleries; label_issues.csv with
  --find-label-issues), under the output dir and beside a pushed version, from one pass of the
  gated split through the model."""
  started = time.monotonic()
  scored = predictions.for_record(record)
  if scored is not None:
    record.predictions = {
      **predictions.summary_block(scored),
      "gradcam_skipped": explanations.gradcam_skipped(record),
    }
  builder.add_ensemble(record, predictions.member_accuracies(scored) if scored else [])
  issues = label_issues.for_record(record, scored)
  record.report_dir = publish.publish(
    record, context.output_dir, context.serving_model_dir, scored, issues
  )
  record.report_seconds = round(time.monotonic() - started, 1)


def _tell(record: RunRecord, written: Optional[str], say, note, error) -> None:
  details = f" (details: {record.log})" if record.log else ""
  if record.completed or record.push_error:
    say(console_text.format_summary(record))
    if written:
      note(
        f"summary written to {written}"
        + (f"; report in {record.report_dir}" if record.report_dir else "")
      )
    if record.push_error:
      error(f"error: {record.push_error}")
    return
  if record.status is Status.INPUT_ERROR:
    error(f"error: {record.error.splitlines()[0]}{details}")
  elif record.status is Status.INTERRUPTED:
    stage = f" during {record.failed_stage}" if record.failed_stage else ""
    error(f"error: {record.error}{stage}; the run stopped (no model version is left half-written)")
  else:
    stage = f" in {record.failed_stage}" if record.failed_stage else ""
    error(f"error: pipeline failed{stage}: {record.error}{details}")
