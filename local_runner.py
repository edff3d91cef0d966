"""Runs the pipeline locally with LocalDagRunner: SQLite metadata, Beam DirectRunner.

  python local_runner.py                      # built-in digits sample -> ./tfx_output/
  python local_runner.py --data-dir DIR ...   # your class-folder tree; see --help

Exit status: 0 blessed and pushed; 3 ran but not blessed (nothing pushed); 2 bad input or
usage; 1 anything else; 130 / 143 interrupted by SIGINT / SIGTERM.
"""

import dataclasses
import datetime
import logging
import os
import signal
import sys
import time
from typing import List, Optional

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NOT_BLESSED = 0, 1, 2, 3
EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}


class Interrupted(BaseException):
  """SIGINT or SIGTERM arrived; a BaseException, so no `except Exception` swallows it."""

  def __init__(self, signum: int):
    super().__init__(signal.Signals(signum).name)
    self.signum = signum


def _raise_interrupted(signum, _frame):
  raise Interrupted(signum)


def _say(message: str) -> None:
  print(f"[local_runner] {message}", flush=True)


def _parser():
  from pipeline import configs  # pylint: disable=import-outside-toplevel

  parser = configs.build_parser()
  parser.add_argument(
    "--wait",
    action="store_true",
    help="When another run holds the output dir, wait for it to end instead "
    "of exiting with status 2.",
  )
  parser.add_argument(
    "--verbose",
    action="store_true",
    help="Show everything on the console (TFX, Beam, TensorFlow logs); "
    "otherwise it goes to <output-dir>/logs/<run>.log.",
  )
  return parser


def main(argv: Optional[List[str]] = None) -> int:
  # Imports are here so that --help and usage errors answer at once.
  from pipeline import configs, console, run_lock  # pylint: disable=import-outside-toplevel

  try:
    config, args = configs.parse(argv, _parser())
  except configs.ConfigError as e:
    print(f"error: {e}", file=sys.stderr)
    return EXIT_USAGE
  try:
    with run_lock.hold(
      config.output_dir,
      wait=args.wait,
      on_wait=lambda pid: _say(f"waiting for run {pid} to release {config.output_dir}"),
    ):
      run_id = datetime.datetime.now().isoformat()
      log_path = os.path.join(config.output_dir, "logs", run_id.replace(":", "") + ".log")
      with console.Console(log_path, verbose=args.verbose) as out:
        return _run(config, run_id, out)
  except run_lock.LockHeld as e:
    print(f"error: {e}", file=sys.stderr)
    return EXIT_USAGE


def _run(config, run_id: str, out) -> int:
  """Runs the pipeline and ends it with reporting.finish.finish_run, however it ends: a
  summary for every run (pushed, not blessed, bad input, failed, interrupted)."""
  from pipeline import configs  # pylint: disable=import-outside-toplevel
  from reporting import finish, outcome  # pylint: disable=import-outside-toplevel

  if not out.verbose:
    _say(f"log: {out.log_path} (--verbose shows it here)")
  started, given = time.time(), [config]
  try:
    _pipeline(given, run_id)
    end = outcome.Outcome()
  except Interrupted as e:
    for other in EXIT_SIGNAL:  # a second signal must not stop the summary being written
      signal.signal(other, signal.SIG_IGN)
    logging.warning("interrupted by %s", signal.Signals(e.signum).name)
    end = outcome.interrupted(e.signum, out.stage)
  except Exception as e:  # pylint: disable=broad-except
    from components.image_example_gen.errors import InputError  # pylint: disable=import-outside-toplevel

    logging.exception("pipeline stopped")
    end = outcome.from_exception(e, out.stage, input_kinds=(InputError, configs.ConfigError))
  config = given[-1]  # with the sample data's folder when there was no --data-dir
  _, status = finish.finish_run(
    config.run_context(),
    end,
    run_id,
    record=lambda: _record(config, run_id),
    extra={"wall_seconds": round(time.time() - started, 1), "log": out.log_path},
    note=_say,
    error=out.error,
  )
  return status


def _record(config, run_id: str):
  """The run's record in its metadata store (absent when the run stopped before it began)."""
  from reporting import record  # pylint: disable=import-outside-toplevel

  if not os.path.isfile(config.metadata_path):
    return None
  return record.open_run(config.metadata_path, config.pipeline_name, run_id)


def _pipeline(given: list, run_id: str) -> None:
  """The sample data when no --data-dir, the input described, then the pipeline run; the
  config the run had is appended to `given`."""
  from absl import logging as absl_logging  # pylint: disable=import-outside-toplevel
  from tfx import v1 as tfx  # pylint: disable=import-outside-toplevel

  from pipeline import inputs, local_run, pipeline, sample_data  # pylint: disable=import-outside-toplevel

  absl_logging.set_verbosity(absl_logging.INFO)
  logging.getLogger("apache_beam").setLevel(logging.WARNING)
  config = given[-1]
  if config.data_dir is None:
    _say(f"no --data-dir: exporting scikit-learn digits to {config.sample_data_dir}")
    config = dataclasses.replace(config, data_dir=sample_data.export_digits(config.sample_data_dir))
    given.append(config)
  source = inputs.describe_input(config)
  infer_source = inputs.describe_inference(config)
  config = inputs.resolve_weights(config)
  given.append(config)
  _say(
    f"{len(source.classes)} classes in {config.data_dir}"
    f"{' (pre-split folders)' if source.presplit else ''}; outputs under {config.output_dir}"
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
    run_id,
  )


def run(argv: Optional[List[str]] = None) -> int:
  """main() with the contract's exit status for interrupts and unexpected failures."""
  for signum in EXIT_SIGNAL:
    signal.signal(signum, _raise_interrupted)
  try:
    return main(argv)
  except (Interrupted, KeyboardInterrupt) as e:
    signum = getattr(e, "signum", signal.SIGINT)
    # Ignore a second signal while stopping; pushes are staged and renamed into place, so no
    # half-written version is ever served.
    for other in EXIT_SIGNAL:
      signal.signal(other, signal.SIG_IGN)
    print(
      f"error: interrupted by {signal.Signals(signum).name}; the run stopped "
      "(no model version is left half-written)",
      file=sys.stderr,
    )
    return EXIT_SIGNAL[signum]
  except Exception as e:  # pylint: disable=broad-except  (before the run's log exists)
    print(f"error: pipeline failed: {type(e).__name__}: {e}".splitlines()[0], file=sys.stderr)
    return EXIT_ERROR


if __name__ == "__main__":
  sys.exit(run())
