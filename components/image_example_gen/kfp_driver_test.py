"""The compiled Kubeflow spec runs ImageExampleGen's own driver as the task's preCacheCheck: the
fingerprint Vertex caches on is the one LocalDagRunner's driver computes."""

import json
import os
import subprocess
import sys

import pytest

from components.image_example_gen import driver_test
from pipeline import kfp_spec
from tests import images
from tools import spec_runner

pytestmark = pytest.mark.e2e  # three processes that start TensorFlow (about 30 s)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


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
  assert kfp_spec.use_image_driver(spec) == 0  # already done, and idempotent

  first = spec_runner.SpecRunner(spec, run_id="t1").run_driver("ImageExampleGen")
  first = first["parameterValues"]
  assert first["input_fingerprint"] == driver_test.fingerprint(data)
  assert first["span"] == 0
  with open(
    os.path.join(
      data, "1", "deep", "er", sorted(os.listdir(os.path.join(data, "1", "deep", "er")))[0]
    ),
    "wb",
  ) as f:
    f.write(b"a deep image overwritten with text")
  second = spec_runner.SpecRunner(spec, run_id="t2").run_driver("ImageExampleGen")
  second = second["parameterValues"]
  assert second["input_fingerprint"] == driver_test.fingerprint(data) != first["input_fingerprint"]
