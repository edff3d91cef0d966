"""Shared by the tests that start the pipeline: its stages, and local_runner.py as a user runs
it."""

import json
import os
import subprocess
import sys

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


# One epoch at a rate that barely moves the weights: a model that surely makes mistakes (at the
# default rate one epoch already classifies these digits perfectly), blessed because every
# bound is 0 (a change against the served model is a gate of its own: add --change-threshold).
WEAK = (
  "--epochs",
  "1",
  "--learning-rate",
  "1e-5",
  "--image-size",
  "16",
  "--accuracy-threshold",
  "0",
  "--min-class-recall",
  "0",
  "--min-class-precision",
  "0",
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


def compile_spec(spec_path, *flags, num_classes=10, env=None):
  """kubeflow_runner.py compiling the pipeline of `num_classes` classes on gs:// to spec_path,
  then `flags`: the finished process."""
  return subprocess.run(
    [
      sys.executable,
      "kubeflow_runner.py",
      "--compile",
      str(spec_path),
      "--image",
      "example.com/image-pipeline:test",
      "--data-dir",
      "gs://bucket/images",
      "--output-dir",
      "gs://bucket/tfx",
      "--num-classes",
      str(num_classes),
      *flags,
    ],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=300,
    env=env,
  )


def mlmd_states(output_dir, pipeline_name, run_id=None):
  """node -> MLMD execution state (COMPLETE, CACHED, FAILED, ...) of a run (default: the
  latest), as the project's reader (reporting/executions.py) reads the store."""
  from reporting import executions  # noqa: PLC0415  (ml_metadata: only for the e2e tests)

  run = executions.open_run(os.path.join(output_dir, "metadata.db"), pipeline_name, run_id)
  return {node: e.state for node, e in run.stages().items()}
