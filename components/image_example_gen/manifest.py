"""CSV manifests (path,label rows), read as a stream, and their digest."""

import csv
import hashlib
import io
from typing import Iterator

import tensorflow as tf

from components.image_example_gen.errors import InputError
from components.image_example_gen.files import display
from schemas import csv_cells


class _Reader(io.RawIOBase):
  """A tf.io.gfile file as the raw stream io.TextIOWrapper reads from."""

  def __init__(self, f):
    super().__init__()
    self._f = f

  def readable(self) -> bool:
    return True

  def readinto(self, buffer) -> int:
    data = self._f.read(len(buffer))
    buffer[: len(data)] = data
    return len(data)


def file_sha256(path: str) -> str:
  digest = hashlib.sha256()
  with tf.io.gfile.GFile(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def manifest_rows(path: str, labelled: bool = True) -> Iterator[dict]:
  """Rows {path, label} of a CSV manifest (UTF-8, with or without a BOM), read as a stream.
  Not `labelled`: only the path column is needed (label is then '' when missing).

  Bytes that are not UTF-8 are kept as surrogate escapes: such a path still names its file.
  A cell this project's CSV writers made safe for spreadsheets ('=x, '-1) is read as it was
  (schemas/csv_cells.py): a to_label.csv is a manifest.
  """
  with tf.io.gfile.GFile(path, "rb") as f:
    reader = csv.DictReader(
      io.TextIOWrapper(_Reader(f), encoding="utf-8-sig", errors="surrogateescape", newline="")
    )
    reader.fieldnames = [(n or "").strip().lower() for n in reader.fieldnames or ()]
    needed = ["path", "label"] if labelled else ["path"]
    if not set(needed) <= set(reader.fieldnames):
      columns = "columns path,label" if labelled else "column path"
      raise InputError(f"manifest {display(path)} needs a header with the {columns}")
    for row in reader:
      yield {
        "path": csv_cells.unescape((row["path"] or "").strip()),
        "label": csv_cells.unescape((row.get("label") or "").strip()),
      }
