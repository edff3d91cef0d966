"""Runs the pipeline locally with LocalDagRunner: SQLite metadata, Beam DirectRunner.

  python local_runner.py                      # built-in digits sample -> ./tfx_output/
  python local_runner.py --data-dir DIR ...   # your class-folder tree; see --help

Exit status (schemas/outcomes.py): 0 blessed and pushed, or the candidate is already the served
model; 3 ran but not blessed (nothing pushed); 2 bad input or usage; 1 anything else;
130 / 143 interrupted by SIGINT / SIGTERM.
"""

import dataclasses
import datetime
import logging
import os
import signal
import sys
import time
from typing import List, Optional

# Light imports only (no TensorFlow, TFX or Beam): --help and usage errors answer at once, and
# the record writer (reporting.finish) is in place before the run's heavy imports.
from pipeline import cloud_extensions, configs, console, heavy_imports, run_lock
from reporting import finish, outcome
from schemas.outcomes import SIGNAL_EXIT, ExitCode


class Interrupted(BaseException):
  """SIGINT or SIGTERM arrived; a BaseException, so no `except Exception` swallows it."""

  def __init__(self, signum: int):
    super().__init__(signal.Signals(signum).name)
    self.signum = signum


def _raise_interrupted(signum, _frame):
  raise Interrupted(signum)


def _ignore_signals() -> None:
  """While a stopping run writes its record, a second signal must not stop it."""
  for signum in SIGNAL_EXIT:
    signal.signal(signum, signal.SIG_IGN)


def _say(message: str) -> None:
  print(f"[local_runner] {message}", flush=True)


def main(argv: Optional[List[str]] = None) -> int:
  """Parses and checks the flags, environment and paths (usage errors: exit 2, before anything
  heavy is imported or anything is created), takes the output dir, runs the pipeline and ends
  with its record, whatever ends it."""
  try:
    config, options = configs.parse(argv, (configs.PipelineConfig, configs.LocalOptions))
  except configs.ConfigError as e:
    print(f"error: {e}", file=sys.stderr)
    return ExitCode.USAGE

  try:
    with run_lock.hold(
      config.output_dir,
      wait=options.wait,
      on_wait=lambda pid: _say(f"waiting for run {pid} to release {config.output_dir}"),
    ):
      run_id = datetime.datetime.now().isoformat()
      log_path = os.path.join(config.output_dir, "logs", run_id.replace(":", "") + ".log")
      run = Run(config, run_id)
      try:
        with console.Console(log_path, verbose=options.verbose) as out:
          return run.start(out)
      except Interrupted as e:  # before the console was up, or while the run was ending
        _ignore_signals()
        return run.stopped(e.signum, log_path)
  except run_lock.LockHeld as e:
    print(f"error: {e}", file=sys.stderr)
    return ExitCode.USAGE


class Run:
  """One run: the pipeline, then reporting.finish.finish_run however it ends (pushed,
  unchanged, not blessed, bad input, failed, interrupted)."""

  def __init__(self, config, run_id: str):
    self.config, self.run_id = config, run_id
    self.started = time.time()
    self.stage: Optional[str] = None  # the stage running when it stopped
    self.finished = False

  def start(self, out) -> int:
    if not out.verbose:
      _say(f"log: {out.log_path} (--verbose shows it here)")
    try:
      _pipeline(self)
      end = None
    except Interrupted as e:
      _ignore_signals()
      end = ("interrupted", e.signum)
    except Exception as e:  # noqa: BLE001  (every failure ends in the record)
      logging.exception("pipeline stopped")
      end = ("failed", e)
    self.stage = out.stage
    return self._finish(end, out.log_path, out.error)

  def stopped(self, signum: int, log_path: str) -> int:
    """An interrupt outside the pipeline's own run: its record, if the run has none yet."""
    if self.finished:  # the record was written; the signal came while the process ended
      return SIGNAL_EXIT[signum]
    return self._finish(("interrupted", signum), log_path)

  def _finish(self, end, log_path: str, error=None) -> int:
    if end is None:
      ended = outcome.Outcome()
    elif end[0] == "interrupted":
      logging.warning("interrupted by %s", signal.Signals(end[1]).name)
      ended = outcome.interrupted(end[1], self.stage)
    else:
      ended = outcome.from_exception(end[1], self.stage, input_kinds=(configs.ConfigError,))
    _, status = finish.finish_run(
      self.config.run_context(),
      ended,
      self.run_id,
      run=self._executions,
      extra={"wall_seconds": round(time.time() - self.started, 1), "log": log_path},
      note=_say,
      **({"error": error} if error else {}),
    )
    self.finished = True
    return status

  def _executions(self):
    """The run's executions in its metadata store (none when it stopped before it began)."""
    from reporting import executions  # noqa: PLC0415  (ml_metadata: once a run has a store)

    if not os.path.isfile(self.config.metadata_path):
      return None
    return executions.open_run(self.config.metadata_path, self.config.pipeline_name, self.run_id)


def _pipeline(run: Run) -> None:
  """The sample data when no --data-dir, the input described, then the pipeline run; the
  run's config follows (the sample data's folder, the weights file resolved)."""
  # The run's heavy imports, after the output dir is taken: an interrupt now ends in a record.
  cloud_extensions.defer()  # TFX's Google Cloud extensions: not imported by a local run
  with heavy_imports.frozen():
    from absl import logging as absl_logging  # noqa: PLC0415  (TFX's logging)
    from tfx import v1 as tfx  # noqa: PLC0415  (TFX)

    from pipeline import inputs, local_run, pipeline, sample_data  # noqa: PLC0415  (TFX)
    from reporting import executions  # noqa: PLC0415  (ml_metadata)

  absl_logging.set_verbosity(absl_logging.INFO)
  logging.getLogger("apache_beam").setLevel(logging.WARNING)
  config = run.config
  executions.check_store(config.metadata_path)  # one line naming a broken store, not its SQL
  sample = config.data_dir is None
  if sample:
    config = run.config = dataclasses.replace(
      config, data_dir=sample_data.export_digits(config.sample_data_dir)
    )
  source = inputs.describe_input(config)
  infer_source = inputs.describe_inference(config)
  config = run.config = inputs.resolve_weights(config)
  _say(
    ("no --data-dir: scikit-learn's digits exported, " if sample else "")
    + f"{len(source.classes)} classes in {config.data_dir}"
    + f"{' (pre-split folders)' if source.presplit else ''}; outputs under {config.output_dir}"
  )
  local_run.run(
    pipeline.create_pipeline(
      config,
      source,
      metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
        config.metadata_path
      ),
      infer_source=infer_source,
    ),
    run.run_id,
  )


def run(argv: Optional[List[str]] = None) -> int:
  """main() with the contract's exit status for interrupts before the output dir was taken and
  for unexpected failures."""
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before anything imports TensorFlow
  for signum in SIGNAL_EXIT:
    signal.signal(signum, _raise_interrupted)
  try:
    return int(main(argv))
  except (Interrupted, KeyboardInterrupt) as e:
    signum = getattr(e, "signum", signal.SIGINT)
    _ignore_signals()
    print(f"error: interrupted by {signal.Signals(signum).name}", file=sys.stderr)
    return int(SIGNAL_EXIT[signum])
  except Exception as e:  # noqa: BLE001  (before the run's log exists)
    print(f"error: pipeline failed: {type(e).__name__}: {e}".splitlines()[0], file=sys.stderr)
    return int(ExitCode.ERROR)


if __name__ == "__main__":
  console.exit_now(run())
