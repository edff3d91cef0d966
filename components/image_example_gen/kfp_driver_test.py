"""The compiled Kubeflow spec runs ImageExampleGen's own driver as the task's preCacheCheck: the
fingerprint Vertex caches on is the one LocalDagRunner's driver computes."""

import json
import os
import subprocess
import sys

import pytest

from components.image_example_gen import driver_test, kfp_driver
from tests import images
from tools import spec_runner

pytestmark = pytest.mark.e2e  # three processes that start TensorFlow (about 30 s)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _driver_output(spec, task_dir):
  """Runs the ImageExampleGen task's preCacheCheck command, with the ExecutorInput Vertex's
  launcher gives it (built as tools/spec_runner.py does); returns its ExecutorOutput."""
  runner = spec_runner.SpecRunner(spec, run_id="driver-only")
  task = runner.pipeline["root"]["dag"]["tasks"]["ImageExampleGen"]
  component, executor = runner._executor(task)  # pylint: disable=protected-access
  parameters = spec_runner._parameters(task, runner.root_values)  # pylint: disable=protected-access
  output_file = os.path.join(task_dir, "executor_output.json")
  executor_input = {
    "inputs": {
      "parameters": {
        k: spec_runner._as_kfp_value(v)  # pylint: disable=protected-access
        for k, v in parameters.items()
      },
      "parameterValues": parameters,
      "artifacts": {},
    },
    "outputs": {
      "artifacts": {
        "examples": {
          "artifacts": [
            {
              "name": "examples",
              "uri": os.path.join(task_dir, "examples"),
              "metadata": {},
              "type": component["outputDefinitions"]["artifacts"]["examples"]["artifactType"],
            }
          ]
        }
      },
      "outputFile": output_file,
    },
  }
  hook = executor["container"]["lifecycle"]["preCacheCheck"]
  runner._command("ImageExampleGen", hook, executor_input)  # pylint: disable=protected-access
  with open(output_file) as f:
    return json.load(f)


def test_compiled_spec_fingerprints_every_file_like_the_local_driver(tmp_path):
  data = str(tmp_path / "data")
  images.write_tree(data, images.digit_files({0: 6, 1: 6}, folder="{digit}/deep/er"))
  spec_path = tmp_path / "pipeline.json"
  compiled = subprocess.run(
    [
      sys.executable,
      "kubeflow_runner.py",
      "--compile",
      str(spec_path),
      "--data-dir",
      data,
      "--output-dir",
      str(tmp_path / "out"),
    ],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert compiled.returncode == 0, compiled.stderr[-3000:]
  spec = json.loads(spec_path.read_text())
  executors = spec["pipelineSpec"]["deploymentSpec"]["executors"]
  hook = executors["ImageExampleGen_executor"]["container"]["lifecycle"]["preCacheCheck"]
  assert hook["command"] == ["python", "-m", "components.image_example_gen.kfp_driver"]
  assert kfp_driver.use_in_spec(spec) == 0  # already done, and idempotent

  first = _driver_output(spec, str(tmp_path / "t1"))["parameterValues"]
  assert first["input_fingerprint"] == driver_test.fingerprint(data)
  assert first["span"] == 0
  with open(
    os.path.join(
      data, "1", "deep", "er", sorted(os.listdir(os.path.join(data, "1", "deep", "er")))[0]
    ),
    "wb",
  ) as f:
    f.write(b"a deep image overwritten with text")
  second = _driver_output(spec, str(tmp_path / "t2"))["parameterValues"]
  assert second["input_fingerprint"] == driver_test.fingerprint(data) != first["input_fingerprint"]
