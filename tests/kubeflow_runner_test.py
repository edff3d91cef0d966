"""kubeflow_runner compiles the same pipeline to a KFP v2 spec."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STAGES = {"ImageExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator", "Transform",
          "Trainer", "Evaluator", "ServingCheck", "ServingPusher"}


def test_compiles_every_stage_into_a_kfp_v2_spec(tmp_path):
  spec_path = tmp_path / "pipeline.json"
  result = subprocess.run(
      [sys.executable, "kubeflow_runner.py", "--compile", str(spec_path), "--image",
       "example.com/image-pipeline:test", "--data-dir", "gs://bucket/images", "--output-dir",
       "gs://bucket/tfx", "--num-classes", "10"],
      cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  spec = json.loads(spec_path.read_text())
  pipeline_spec = spec["pipelineSpec"]
  tasks = pipeline_spec["root"]["dag"]["tasks"]
  assert STAGES <= set(tasks)
  assert "Transform" in tasks["Trainer"]["dependentTasks"]
  assert set(tasks["ServingCheck"]["dependentTasks"]) == {"Trainer", "ImageExampleGen"}
  assert {"ServingCheck", "Evaluator"} <= set(tasks["ServingPusher"]["dependentTasks"])
  # The latest-blessed-model resolver compiles to resolver tasks feeding the Evaluator.
  assert "latest_blessed_model_resolver-model-resolver" in tasks["Evaluator"]["dependentTasks"]
  images = {e["container"]["image"]
            for e in pipeline_spec["deploymentSpec"]["executors"].values() if "container" in e}
  assert images == {"example.com/image-pipeline:test"}
  assert spec["runtimeConfig"]["gcsOutputDirectory"] == "gs://bucket/tfx/pipeline"


def test_missing_data_dir_is_a_usage_error(tmp_path):
  result = subprocess.run([sys.executable, "kubeflow_runner.py", "--compile",
                           str(tmp_path / "p.json")], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1] == (
      "error: --data-dir is required (a path the pipeline's workers can read)")
