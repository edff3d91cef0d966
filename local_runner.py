"""Runs the pipeline locally with LocalDagRunner: SQLite metadata, Beam DirectRunner.

  python local_runner.py                      # built-in digits sample -> ./tfx_output/
  python local_runner.py --data-dir DIR ...   # your class-folder tree; see --help

Exit status: 0 blessed and pushed; 3 ran but not blessed (nothing pushed); 2 bad input or
usage; 1 anything else; 130 / 143 interrupted by SIGINT / SIGTERM.
"""

import dataclasses
import datetime
import json
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
        try:
          return _run(config, run_id, out)
        except Exception as e:  # pylint: disable=broad-except
          logging.exception("pipeline failed")
          out.error(
            f"error: pipeline failed: {type(e).__name__}: {e}".splitlines()[0]
            + f" (details: {log_path})"
          )
          return EXIT_ERROR
  except run_lock.LockHeld as e:
    print(f"error: {e}", file=sys.stderr)
    return EXIT_USAGE


def _run(config, run_id: str, out) -> int:
  from absl import logging as absl_logging  # pylint: disable=import-outside-toplevel
  from tfx import v1 as tfx  # pylint: disable=import-outside-toplevel

  from pipeline import configs, inputs, local_run, pipeline, report, sample_data, summary  # pylint: disable=import-outside-toplevel

  absl_logging.set_verbosity(absl_logging.INFO)
  logging.getLogger("apache_beam").setLevel(logging.WARNING)

  if not out.verbose:
    _say(f"log: {out.log_path} (--verbose shows it here)")
  try:
    if config.data_dir is None:
      _say(f"no --data-dir: exporting scikit-learn digits to {config.sample_data_dir}")
      config = dataclasses.replace(
        config, data_dir=sample_data.export_digits(config.sample_data_dir)
      )
    source = inputs.describe_input(config)
    config = inputs.resolve_weights(config)
  except configs.ConfigError as e:
    return _input_failure(config, e, e, out)
  _say(
    f"{len(source.classes)} classes in {config.data_dir}"
    f"{' (pre-split folders)' if source.presplit else ''}; outputs under {config.output_dir}"
  )

  started, blocked = time.time(), None
  try:
    local_run.run(
      pipeline.create_pipeline(
        config,
        source,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
          config.metadata_path
        ),
      ),
      run_id,
    )
  except Exception as e:  # pylint: disable=broad-except
    blocked = summary.drift_blocked(e)  # DriftCheck stopped the run before training: exit 3
    if blocked is None and summary.input_error(e) is None:
      raise
    if blocked is None:  # bad data found by a stage (ImageExampleGen): exit 2
      return _input_failure(config, summary.input_error(e), e, out)
    logging.warning("stopped by DriftCheck", exc_info=e)
  result = summary.collect(config, run_id=run_id)
  if blocked is not None:
    summary.add_drift_block(result, blocked.report)
  result["wall_seconds"] = round(time.time() - started, 1)
  result["log"] = out.log_path
  result["report_dir"] = report.publish(result, config.output_dir, config.serving_model_dir)
  with open(config.summary_path, "w") as f:
    json.dump(result, f, indent=2)
  print(summary.format_summary(result), flush=True)
  _say(f"summary written to {config.summary_path}; report in {result['report_dir']}")
  if result.get("push_error"):
    out.error(f"error: {result['push_error']}")
    return EXIT_ERROR
  if result["blessed"] and result["pushed_model_path"]:
    return EXIT_OK
  return EXIT_NOT_BLESSED


def _input_failure(config, error: Exception, exc: BaseException, out) -> int:
  """Bad input, found before or during the run: one line on stderr, exit 2; run_summary.json
  with the counts found so far and the error; the traceback in the run's log."""
  from pipeline import summary  # pylint: disable=import-outside-toplevel

  logging.error("bad input", exc_info=exc)
  log_path = out.log_path
  try:
    with open(config.summary_path, "w") as f:
      json.dump(dict(summary.input_error_summary(config, error), log=log_path), f, indent=2)
  except OSError as e:  # an unwritable output dir must not hide the input error
    log_path = f"not written ({e})"
  out.error(
    f"error: {str(error).splitlines()[0] if str(error) else type(error).__name__}"
    f" (details: {log_path})"
  )
  return EXIT_USAGE


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
