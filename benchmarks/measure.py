"""Runs a command in a fresh process and measures its wall time and peak memory."""

import json
import os
import subprocess
import threading
import time
from typing import Any, Dict, List, Tuple

import psutil


def run_sampled(
  command: List[str], **popen_args
) -> Tuple[subprocess.CompletedProcess, float, List[Tuple[float, float]]]:
  """(completed process, wall seconds, [(unix time, MB)]): the summed RSS of the process and
  all its children, sampled every 50 ms."""

  start = time.perf_counter()
  proc = subprocess.Popen(command, **popen_args)
  samples = []

  def sample():
    parent = psutil.Process(proc.pid)
    while proc.poll() is None:
      try:
        tree = [parent] + parent.children(recursive=True)
        samples.append(
          (time.time(), sum(p.memory_info().rss for p in tree if p.is_running()) / 2**20)
        )
      except psutil.Error:
        pass
      time.sleep(0.05)

  sampler = threading.Thread(target=sample, daemon=True)
  sampler.start()
  out, err = proc.communicate()
  wall = time.perf_counter() - start
  sampler.join()
  return subprocess.CompletedProcess(command, proc.returncode, out, err), wall, samples


def run(command: List[str], **popen_args) -> Tuple[subprocess.CompletedProcess, float, float]:
  """(completed process, wall seconds, peak MB of the process tree)."""
  done, wall, samples = run_sampled(command, **popen_args)
  return done, wall, max((mb for _, mb in samples), default=0.0)


def pipeline(command: List[str], out_dir: str) -> Tuple[Dict[str, Any], float, float]:
  """Runs local_runner.py's `command` writing to `out_dir`: (its run_summary.json, wall
  seconds, peak MB). Exit 0 or 3 (not blessed) are results; anything else is an error."""
  done, wall, peak = run(command)
  if done.returncode not in (0, 3):
    raise RuntimeError(f"local_runner.py failed with exit status {done.returncode} in {out_dir}")
  with open(os.path.join(out_dir, "run_summary.json")) as f:
    return json.load(f), wall, peak
