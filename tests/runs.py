"""Shared by the tests that start the pipeline: its stages, and local_runner.py as a user runs
it."""

import json
import os
import subprocess

from tools.runner import ROOT, local_runner_command

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


def run_local(data_dir, output_dir, pipeline_name, *flags, timeout=1200):
  """(the finished process, its run_summary.json)."""
  result = subprocess.run(
    local_runner_command(data_dir, output_dir, pipeline_name, *flags),
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=timeout,
  )
  with open(os.path.join(output_dir, "run_summary.json")) as f:
    return result, json.load(f)
