"""`python -m pipeline.report --output-dir DIR`: the latest run under DIR read again from its
metadata store; prints its per-class table and writes its report again (report/ and
serving_model/reports/<version>/). The report itself is made by reporting/publish.py."""

import os
import sys
import time
from typing import List, Optional

from pipeline import cloud_extensions, configs, console, heavy_imports  # light: no TensorFlow
from schemas.outcomes import ExitCode


def _settings(argv: Optional[List[str]]):
  """The config of the runs to report (--output-dir, --pipeline-name: the runners' own settings,
  from flags or environment), checked before anything heavy is imported; ConfigError when
  there is nothing to report."""
  (config,) = configs.parse(
    argv,
    only=("output_dir", "pipeline_name"),
    prog="python -m pipeline.report",
    description="Prints the per-class table of the latest run of a pipeline under an output "
    "dir (the runs' --output-dir, which holds metadata.db) and writes its report again "
    "(report/ and serving_model/reports/<version>/).",
  )
  if not os.path.isdir(config.output_dir):
    state = "is not a folder" if os.path.exists(config.output_dir) else "does not exist"
    raise configs.ConfigError(f"--output-dir {config.output_dir} {state}")
  if not os.path.isfile(config.metadata_path):
    raise configs.ConfigError(
      f"{config.output_dir} holds no pipeline runs: {config.metadata_path} does not exist"
    )
  return config


def main(argv: Optional[List[str]] = None) -> int:
  """Exit 0 with the table and the report; 2 with one line when there is nothing to report.
  TensorFlow's and TFMA's own output goes to <output-dir>/logs/report-<time>.log."""
  try:
    config = _settings(argv)
  except configs.ConfigError as e:
    print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
    return ExitCode.USAGE
  log = os.path.join(config.output_dir, "logs", time.strftime("report-%Y%m%d-%H%M%S.log"))
  with console.Console(log) as out:
    cloud_extensions.defer()  # TFX's Google Cloud extensions: not imported to report
    with heavy_imports.frozen():
      from reporting import build, card, executions, publish  # noqa: PLC0415  (TensorFlow)
      from reporting.outcome import Outcome  # noqa: PLC0415  (after the checks)

    try:
      run = executions.open_run(config.metadata_path, config.pipeline_name)
      result = build.build(config.run_context(), Outcome(), run.run_id, run)
      if not result.metrics:
        raise LookupError(
          f"the latest run of {config.pipeline_name!r} in {config.output_dir} has "
          "no evaluation (it stopped before the Evaluator)"
        )
      report_dir = publish.publish(result, config.output_dir, config.serving_model_dir)
    except (LookupError, OSError, KeyError, executions.StoreError) as e:
      out.error(f"error: {str(e).splitlines()[0]} (details: {log})")
      return ExitCode.USAGE
  print(card.per_class_table(result), end="")
  print(f"report written to {report_dir}")
  return ExitCode.OK


if __name__ == "__main__":
  console.exit_now(main())
