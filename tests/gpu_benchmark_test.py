"""benchmarks/gpu_benchmark.py on a machine without a GPU: one line, exit 2, nothing written."""

import os
import subprocess
import sys

import pytest

from benchmarks import gpu_benchmark
from tests.runs import ROOT

pytestmark = pytest.mark.integration  # a subprocess


def test_without_a_gpu_it_says_so_in_one_line_and_measures_nothing(tmp_path):
  # CUDA_VISIBLE_DEVICES=-1 hides any GPU from TensorFlow, as on a machine without one.
  env = {**os.environ, "CUDA_VISIBLE_DEVICES": "-1", "PYTHONPATH": ROOT}
  result = subprocess.run(
    [sys.executable, "-m", "benchmarks.gpu_benchmark", "--work", str(tmp_path / "work")],
    cwd=tmp_path,
    env=env,
    capture_output=True,
    text=True,
    timeout=120,
  )
  assert result.returncode == gpu_benchmark.EXIT_NO_GPU == 2
  assert result.stderr.strip().splitlines()[-1] == gpu_benchmark.NO_GPU
  assert "Traceback" not in result.stderr and result.stdout == ""
  assert os.listdir(tmp_path) == []  # no data exported, no BENCHMARKS.md written
