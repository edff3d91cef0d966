"""Runs a command in a fresh process and measures its wall time and peak memory."""

import subprocess
import threading
import time
from typing import List, Tuple


def run(command: List[str], **popen_args) -> Tuple[subprocess.CompletedProcess, float, float]:
  """(completed process, wall seconds, peak MB): peak is the largest summed RSS of the process
  and all its children, sampled every 50 ms."""
  import psutil  # pylint: disable=import-outside-toplevel
  start = time.perf_counter()
  proc = subprocess.Popen(command, **popen_args)
  peak = [0]

  def sample():
    parent = psutil.Process(proc.pid)
    while proc.poll() is None:
      try:
        tree = [parent] + parent.children(recursive=True)
        peak[0] = max(peak[0], sum(p.memory_info().rss for p in tree if p.is_running()))
      except psutil.Error:
        pass
      time.sleep(0.05)

  sampler = threading.Thread(target=sample, daemon=True)
  sampler.start()
  out, err = proc.communicate()
  wall = time.perf_counter() - start
  sampler.join()
  return subprocess.CompletedProcess(command, proc.returncode, out, err), wall, peak[0] / 2**20
