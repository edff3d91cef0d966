"""The paths a run is given, checked with `os` alone, before TensorFlow, TFX or Beam is imported:
one that does not exist, or is a file where a folder is needed (or the reverse), is a usage
error. gs:// paths need TensorFlow's file system: the stages that read them check them."""

import os
from typing import Iterator, Optional


def _is_local(path: Optional[str]) -> bool:
  return bool(path) and "://" not in path


def _above_placeholder(path: str) -> str:
  """The folder above the first part of the path with a placeholder ({SPAN}, {VERSION},
  {YYYY}...), which must exist before the newest span can be found."""
  return os.path.dirname(path.split("{", 1)[0]) or "."


def data_errors(flag: str, path: Optional[str]) -> Iterator[str]:
  """A data path (--data-dir, --infer-dir): a folder, or a .csv manifest file."""
  if not _is_local(path):
    return
  if "{" in path:
    above = _above_placeholder(path)
    if not os.path.isdir(above):
      state = "is not a folder" if os.path.exists(above) else "does not exist"
      yield f"{flag} {path}: {above} {state}"
    return
  if not os.path.exists(path):
    yield f"{flag} {path} does not exist"
  elif path.rstrip("/").lower().endswith(".csv"):
    if not os.path.isfile(path):
      yield f"{flag} {path} is not a .csv manifest (it is a folder)"
  elif not os.path.isdir(path):
    yield f"{flag} {path} is not a folder or a .csv manifest"


def file_errors(flag: str, path: Optional[str]) -> Iterator[str]:
  """A file to read (--weights)."""
  if not _is_local(path):
    return
  if not os.path.exists(path):
    yield f"{flag} {path} does not exist"
  elif not os.path.isfile(path):
    yield f"{flag} {path} is not a file"


def output_errors(flag: str, path: str) -> Iterator[str]:
  """A folder to write in, maybe yet to be made: the nearest part of it that exists must be a
  folder this process can write in."""
  if not _is_local(path):
    return
  existing = os.path.abspath(path)
  while not os.path.lexists(existing):
    existing = os.path.dirname(existing)
  where = "" if existing == os.path.abspath(path) else f": {existing}"
  if not os.path.isdir(existing):
    yield f"{flag} {path}{where} is not a folder"
  elif not os.access(existing, os.W_OK | os.X_OK):
    yield f"{flag} {path}{where} is not writable"
