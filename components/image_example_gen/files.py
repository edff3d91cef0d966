"""One file: how its name is shown and hashed, and reading it without ever blocking.

Kept apart from spans.py and walk.py (which need TFX) so that Beam's workers import only
TensorFlow.
"""

import errno
import os
import stat
from typing import Optional, Tuple

import tensorflow as tf


def is_remote(path: str) -> bool:
  return "://" in path


def display(name: str) -> str:
  """A name as reports show it: bytes that are not UTF-8 as \\xNN escapes."""
  return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def encode(name: str) -> bytes:
  """A name's bytes as the file system has them (what tf.Examples hold and splits hash)."""
  return name.encode("utf-8", "surrogateescape")


def is_text(name: str) -> bool:
  try:
    name.encode("utf-8")
    return True
  except UnicodeEncodeError:
    return False


def os_reason(error: OSError) -> str:
  if error.errno == errno.ELOOP:
    return "symlink_loop"
  if error.errno in (errno.ENOENT, errno.ENOTDIR):
    return "missing_file"
  return "unreadable_file"


def open_file(path: str, mode: str):
  """A binary file, local (Python's own, buffered) or remote (tf.io.gfile)."""
  if is_remote(path):
    return tf.io.gfile.GFile(path, mode)
  return open(path, mode)  # binary: the caller closes it


def read_file(path: str) -> Tuple[Optional[str], bytes]:
  """(rejection reason or None, bytes). Never blocks on a FIFO put in place after listing."""
  if is_remote(path):
    try:
      with tf.io.gfile.GFile(path, "rb") as f:
        return None, f.read()
    except tf.errors.NotFoundError:
      return "missing_file", b""
    except tf.errors.OpError:
      return "unreadable_file", b""
  try:
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
  except OSError as e:
    return os_reason(e), b""
  with os.fdopen(fd, "rb") as f:
    if not stat.S_ISREG(os.fstat(fd).st_mode):
      return "not_a_regular_file", b""
    try:
      return None, f.read()
    except OSError as e:
      return os_reason(e), b""
