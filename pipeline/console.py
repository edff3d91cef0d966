"""What a run prints: a few lines for people on the console, everything else in a log file.

Unless verbose, the process's stderr (file descriptor 2: Python logging, TensorFlow's native
logs, GPU probes, deprecation warnings) goes to the run's log file, `<output-dir>/logs/<run>.log`;
stdout stays on the console, where the stages print their own few lines (ImageExampleGen's
counts, the Trainer's cache choice and one line per epoch). TFX's "Component X is running /
finished" become one line each with the seconds taken ("X (cached)" when TFX took the outputs of
an earlier execution), and a Beam stage says how long it has been running every HEARTBEAT
seconds. Lines meant for the user's stderr go to the real one.
"""

import atexit
import logging
import os
import re
import sys
import threading
import time
from typing import Optional

from schemas import nodes

HEARTBEAT = 30  # seconds between "still running" lines of a long stage
# Stages done in a moment: one line when they end, none when they start.
QUICK_STAGES = (
  nodes.SCHEMA_GEN,
  nodes.EXAMPLE_VALIDATOR,
  nodes.DRIFT_CHECK,
  nodes.SERVING_CHECK,
  nodes.PUSHER,
)
# What TFX 1.21 logs (absl): LocalDagRunner around each node, and its Launcher when the node's
# outputs come from an earlier execution ("A cached execution %d is used.").
_STAGE = re.compile(r"Component (\S+) is (running|finished)\.")
_CACHED = re.compile(r"A cached execution \d+ is used\.")


def _out(line: str) -> None:
  print(line, flush=True)


class _Stages(logging.Handler):
  """TFX's component start and end messages, as console lines with seconds."""

  def __init__(self):
    super().__init__(level=logging.INFO)
    self.current: Optional[str] = None
    self.started, self.beats, self.cached = 0.0, 0, False
    self._lock = threading.Lock()

  def emit(self, record: logging.LogRecord) -> None:
    message = record.getMessage()
    if _CACHED.match(message):
      with self._lock:
        self.cached = True  # the stage now running
      return
    match = _STAGE.match(message)
    if not match:
      return
    stage, state = match.groups()
    if stage.endswith(nodes.RESOLVER_SUFFIX):  # a metadata lookup, done at once: nothing to say
      return
    with self._lock:
      if state == "running":
        self.current, self.started, self.beats = stage, time.monotonic(), 0
        self.cached = False
        if stage not in QUICK_STAGES:
          _out(f"[pipeline] {stage} ...")
      elif self.cached:
        _out(f"[pipeline] {stage} (cached)")
        self.current, self.cached = None, False
      else:
        _out(f"[pipeline] {stage} done in {time.monotonic() - self.started:.1f} s")
        self.current = None

  def heartbeat(self) -> None:
    """Every HEARTBEAT seconds of a Beam stage, a line."""
    with self._lock:
      if self.current not in nodes.BEAM_STAGES:
        return
      elapsed = time.monotonic() - self.started
      if elapsed >= self.beats * HEARTBEAT + HEARTBEAT:
        self.beats = int(elapsed // HEARTBEAT)
        _out(f"[pipeline] {self.current}: running for {elapsed:.0f} s")


class Console:
  """Sends the noise to a log file for the length of a run; restores everything after."""

  def __init__(self, log_path: str, verbose: bool = False):
    self.log_path, self.verbose = log_path, verbose
    self._stderr_fd: Optional[int] = None
    self._stages = _Stages()
    self._stop = threading.Event()
    self._thread: Optional[threading.Thread] = None

  def __enter__(self) -> "Console":
    os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
    if not self.verbose:
      sys.stderr.flush()
      self._stderr_fd = os.dup(2)
      log = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
      os.dup2(log, 2)
      os.close(log)
    logging.captureWarnings(True)
    logging.getLogger("absl").addHandler(self._stages)
    self._thread = threading.Thread(target=self._beat, daemon=True)
    self._thread.start()
    return self

  def _beat(self) -> None:
    while not self._stop.wait(1.0):
      self._stages.heartbeat()

  @property
  def stage(self) -> Optional[str]:
    """The stage running now (started, not finished), e.g. the one an error or signal hit."""
    return self._stages.current

  def error(self, line: str) -> None:
    """A line for the user's own stderr, e.g. 'error: ...'; a copy goes to the log."""
    if self._stderr_fd is None:
      print(line, file=sys.stderr, flush=True)
      return
    print(line, file=sys.stderr, flush=True)  # the log
    os.write(self._stderr_fd, (line + "\n").encode())

  def __exit__(self, *exc) -> None:
    self._stop.set()
    logging.getLogger("absl").removeHandler(self._stages)
    logging.captureWarnings(False)
    if self._stderr_fd is not None:
      sys.stderr.flush()
      os.dup2(self._stderr_fd, 2)
      os.close(self._stderr_fd)
      self._stderr_fd = None


def exit_now(status: int) -> None:
  """Ends a command-line tool with `status` once its output and logs are flushed, skipping the
  interpreter's teardown: unloading TensorFlow, TFX and Beam takes 2-3 s with nothing left to
  write (files are closed and the metadata store committed by then). The exit handlers still
  run: they remove TensorFlow's autograph files from the temp dir."""
  atexit._run_exitfuncs()  # noqa: SLF001  (the interpreter's own exit handlers, run as at exit)
  logging.shutdown()
  for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
    try:
      stream.flush()
    except (AttributeError, OSError, ValueError):  # closed or replaced streams
      pass
  os._exit(int(status))
