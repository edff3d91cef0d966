"""console.exit_now ends a tool at once with its status, after its output, its log and the exit
handlers (TensorFlow's autograph files removed from the temp dir): in a fresh interpreter."""

import os
import subprocess
import sys

import pytest

from tools.runner import ROOT

pytestmark = pytest.mark.integration  # a subprocess

SCRIPT = """
import logging, os, sys
from pipeline import console
import tensorflow as tf

@tf.function
def step(x):
  if x > 0:  # autograph converts this function: a generated file in the temp dir
    x = x + 1
  return x

result = int(step(tf.constant(1)))
made = [n for n in os.listdir(sys.argv[1]) if n.startswith("__autograph_generated")]
print(result, len(made) > 0)
logging.basicConfig(filename=os.path.join(sys.argv[1], "run.log"))
logging.warning("last words")
sys.stdout.write("unflushed")
console.exit_now(7)
"""


def test_exit_now_keeps_the_status_output_and_log_and_leaves_no_autograph_files(tmp_path):
  script, temp = tmp_path / "tool.py", tmp_path / "temp"
  script.write_text(SCRIPT)
  temp.mkdir()
  done = subprocess.run(
    [sys.executable, str(script), str(temp)],
    cwd=ROOT,
    env={**os.environ, "TMPDIR": str(temp), "PYTHONPATH": ROOT},
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert done.returncode == 7, done.stderr[-2000:]
  assert done.stdout == "2 True\nunflushed"
  assert "last words" in (temp / "run.log").read_text()
  assert not [n for n in os.listdir(temp) if n.startswith("__autograph_generated")]
