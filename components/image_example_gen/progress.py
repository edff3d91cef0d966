"""Ingestion progress across Beam's worker processes, for a console line every few seconds.

Each checked chunk of the listing appends its file count to a file (one short append, atomic
on a local file system); while Beam runs, a thread of the executor adds them up and prints
"[ImageExampleGen] checked N of TOTAL files (R files/s)". On a remote file system (a Dataflow or Vertex AI
run, which have their own progress pages) nothing is recorded.
"""

import os
import threading
import time
from typing import Optional

from components.image_example_gen import files
from schemas import nodes

FIRST, EARLY, LATER = 5.0, 5.0, 30.0  # seconds: the first line, then every EARLY, after a
EARLY_UNTIL = 30.0  # minute of them every LATER


def progress_file(folder: str) -> Optional[str]:
  return None if files.is_remote(folder) else os.path.join(folder, "progress")


def add(path: Optional[str], count: int) -> None:
  if path:
    with open(path, "a") as f:
      f.write(f"{count}\n")


def checked(path: str) -> int:
  try:
    with open(path) as f:
      return sum(int(line) for line in f if line.endswith("\n"))
  except FileNotFoundError:
    return 0


class Reporter:
  """Prints the files checked so far while the `with` block runs (quiet for short runs)."""

  def __init__(
    self, path: Optional[str], total: Optional[int] = None, stage: str = nodes.EXAMPLE_GEN
  ):
    self.path, self.total, self.stage = (
      path,
      total,
      stage,
    )  # total may be set later, once the files are listed
    self._stop = threading.Event()
    self._thread: Optional[threading.Thread] = None
    self._started, self._printed = 0.0, False

  def __enter__(self) -> "Reporter":
    if self.path:
      self._thread = threading.Thread(target=self._run, daemon=True)
      self._thread.start()
    return self

  def _line(self, done: int) -> int:
    elapsed = time.monotonic() - self._started
    rate = f" ({done / elapsed:,.0f} files/s)" if done else ""
    print(f"[{self.stage}] checked {done:,} of {self.total:,} files{rate}", flush=True)
    self._printed = True
    return done

  def _run(self) -> None:
    self._started, last, wait = time.monotonic(), -1, FIRST
    while not self._stop.wait(wait):
      done = checked(self.path) if self.total else last
      if done != last:
        last = self._line(done)
      wait = EARLY if time.monotonic() - self._started < EARLY_UNTIL else LATER

  def __exit__(self, exc_type, *exc) -> None:
    self._stop.set()
    if self._thread:
      self._thread.join()
      if self._printed and exc_type is None:  # a long run's last line: every file checked
        self._line(checked(self.path))
