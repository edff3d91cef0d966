"""Shared by the tests that start the pipeline: its stages, and local_runner.py as a user runs
it."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The stages of every run, local or compiled (the Tuner and RunReport only in some).
STAGES = (
  "ImageExampleGen",
  "StatisticsGen",
  "ImportSchemaGen",
  "ExampleValidator",
  "Transform",
  "Trainer",
  "Evaluator",
  "ServingCheck",
  "TFLiteExport",
  "ServingPusher",
)


def command(data_dir, output_dir, pipeline_name, *flags):
  return [
    sys.executable,
    "local_runner.py",
    "--data-dir",
    data_dir,
    "--output-dir",
    output_dir,
    "--pipeline-name",
    pipeline_name,
    *flags,
  ]


def run_local(data_dir, output_dir, pipeline_name, *flags, timeout=1200):
  """(the finished process, its run_summary.json)."""
  result = subprocess.run(
    command(data_dir, output_dir, pipeline_name, *flags),
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=timeout,
  )
  with open(os.path.join(output_dir, "run_summary.json")) as f:
    return result, json.load(f)
