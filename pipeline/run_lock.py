"""One run at a time per output dir: an exclusive lock on <output-dir>/.lock holding the pid."""

import contextlib
import fcntl
import os
from typing import Callable, Iterator, Optional

from schemas import filenames


class LockHeld(RuntimeError):
  """Another run holds the output dir."""


def holder(path: str) -> str:
  """The pid written by the run that holds (or last held) the lock, or '?'."""
  try:
    with open(path) as f:
      return f.read().strip() or "?"
  except OSError:
    return "?"


@contextlib.contextmanager
def hold(
  output_dir: str, wait: bool = False, on_wait: Optional[Callable[[str], None]] = None
) -> Iterator[str]:
  """Holds output_dir's lock for the block; the OS releases it when the process ends, however
  it ends. Busy: LockHeld at once, or with `wait` blocks (after calling on_wait(holder pid))."""
  os.makedirs(output_dir, exist_ok=True)
  path = os.path.join(output_dir, filenames.LOCK_FILE)
  fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
  try:
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      pid = holder(path)
      if not wait:
        raise LockHeld(
          f"another run (pid {pid}) is using {output_dir}; wait for it to end, "
          "pass --wait, or choose another --output-dir"
        )
      if on_wait:
        on_wait(pid)
      fcntl.flock(fd, fcntl.LOCK_EX)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    yield path
  finally:
    os.close(fd)
