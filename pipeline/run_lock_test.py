"""The output-dir lock, across real processes."""

import os
import subprocess
import sys
import time

import pytest

from pipeline import run_lock
from schemas import filenames

HOLD = (
  "import sys, time; from pipeline import run_lock\n"
  "with run_lock.hold(sys.argv[1]):\n"
  "  print('held', flush=True); time.sleep(float(sys.argv[2]))\n"
)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _holder(output_dir, seconds):
  process = subprocess.Popen(
    [sys.executable, "-c", HOLD, str(output_dir), str(seconds)],
    cwd=ROOT,
    stdout=subprocess.PIPE,
    text=True,
  )
  assert process.stdout.readline().strip() == "held"
  return process


@pytest.mark.integration
def test_a_second_holder_is_refused_with_the_first_ones_pid(tmp_path):
  process = _holder(tmp_path, 30)
  try:
    with pytest.raises(run_lock.LockHeld, match=f"pid {process.pid}"):
      with run_lock.hold(str(tmp_path)):
        pass
  finally:
    process.kill()
    process.wait()
  with run_lock.hold(str(tmp_path)):  # a killed holder leaves the lock free
    assert run_lock.holder(os.path.join(tmp_path, filenames.LOCK_FILE)) == str(os.getpid())


@pytest.mark.integration
def test_wait_blocks_until_the_holder_ends(tmp_path):
  process = _holder(tmp_path, 2)
  waited_for = []
  started = time.monotonic()
  with run_lock.hold(str(tmp_path), wait=True, on_wait=waited_for.append):
    waited = time.monotonic() - started
  process.wait(timeout=30)
  assert waited_for == [str(process.pid)]
  assert waited > 1.0  # the holder slept 2 s after it said "held"
