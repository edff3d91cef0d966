"""`python -m pipeline.report --output-dir DIR`: the latest run under DIR read again from its
metadata store; prints its per-class table and writes its report again (report/ and
serving_model/reports/<version>/). The report itself is made by reporting/publish.py."""

import argparse
import os
import sys
from typing import List, Optional


def _parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
    prog="python -m pipeline.report",
    allow_abbrev=False,
    description="Prints the per-class table of the latest run of a pipeline under an output "
    "dir and writes its report again (report/ and serving_model/reports/<version>/).",
  )
  parser.add_argument(
    "--output-dir",
    default="tfx_output",
    help="The --output-dir of the runs (holds metadata.db) (default: %(default)s).",
  )
  parser.add_argument(
    "--pipeline-name",
    default="image-classification",
    help="The --pipeline-name of the runs (default: %(default)s).",
  )
  parser.error = lambda message: (_ for _ in ()).throw(ValueError(message))
  return parser


def main(argv: Optional[List[str]] = None) -> int:
  """Exit 0 with the table and the report; 2 with one line when there is nothing to report.
  TensorFlow's and TFMA's own output goes to <output-dir>/logs/report-<time>.log."""
  import time  # pylint: disable=import-outside-toplevel

  from pipeline import configs, console  # pylint: disable=import-outside-toplevel

  try:
    args = _parser().parse_args(argv)
    config = configs.PipelineConfig(output_dir=args.output_dir, pipeline_name=args.pipeline_name)
    if not os.path.isfile(config.metadata_path):
      raise LookupError(
        f"{args.output_dir} holds no pipeline runs: {config.metadata_path} not found"
      )
  except (ValueError, LookupError) as e:
    print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
    return 2
  log = os.path.join(config.output_dir, "logs", time.strftime("report-%Y%m%d-%H%M%S.log"))
  with console.Console(log) as out:
    from reporting import build, card, executions, publish  # noqa: PLC0415
    from reporting.outcome import Outcome  # noqa: PLC0415

    try:
      run = executions.open_run(config.metadata_path, config.pipeline_name)
      result = build.build(config.run_context(), Outcome(), run.run_id, run)
      if not result.metrics:
        raise LookupError(
          f"the latest run of {args.pipeline_name!r} in {args.output_dir} has "
          "no evaluation (it stopped before the Evaluator)"
        )
      report_dir = publish.publish(result, config.output_dir, config.serving_model_dir)
    except (LookupError, OSError, KeyError, executions.StoreError) as e:
      out.error(f"error: {str(e).splitlines()[0]} (details: {log})")
      return 2
  print(card.per_class_table(result), end="")
  print(f"report written to {report_dir}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
