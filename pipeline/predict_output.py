"""What `python -m pipeline.predict` writes: a row per file, as lines, JSON lines or an --output
file (CSV or JSONL), and its closing line. No TensorFlow here: the usage checks run before it
loads.

A row's keys, the same in every form: path, sha256, predicted_class, top_probability,
top_<i>_class and top_<i>_probability for i = 2..K (--top-k K), p_<class> per class in class-id
order, error, and explanation with --explain. JSON adds probabilities ({class: p}).
"""

import contextlib
import csv
import json
import os
import sys
import tempfile
import time
from typing import Any, Dict, Iterator, List, Optional, Sequence, TextIO

from reporting import escape, inference

FORMATS = {".csv": "csv", ".jsonl": "jsonl"}
PROGRESS_MIN_FILES = 500  # --output: progress lines only for more files than this
PROGRESS_EVERY = 1000  # files, or
PROGRESS_SECONDS = 5.0  # whichever comes first
EXPLANATION = "explanation"


class UsageError(Exception):
  """A bad flag, path or model: one line, exit 2."""


def output_format(path: str) -> str:
  """--output's format, by its extension: csv or jsonl."""
  fmt = FORMATS.get(os.path.splitext(path)[1].lower())
  if fmt is None:
    raise UsageError(f"--output {path}: name a .csv or .jsonl file")
  return fmt


def check_output(path: str) -> None:
  """--output names a .csv or .jsonl file that can be written: refused before any work."""
  if os.path.isdir(path):
    raise UsageError(f"--output {path}: is a folder; name a .csv or .jsonl file in it")
  output_format(path)
  folder = os.path.dirname(os.path.abspath(path))
  if not os.path.exists(folder):
    raise UsageError(f"--output {path}: {folder} does not exist")
  if not os.path.isdir(folder):
    raise UsageError(f"--output {path}: {folder} is not a folder")
  if not os.access(folder, os.W_OK):
    raise UsageError(f"--output {path}: cannot write into {folder}")


def columns(class_names: List[str], top_k: int = 1, explain: bool = False) -> List[str]:
  """A row's keys: the pipeline's batch inference CSV's (reporting/inference.py), with the
  top_k - 1 runners-up after the top class, and the explanation's path with --explain."""
  base = inference.columns(class_names)
  ranks = [key for i in range(2, top_k + 1) for key in (f"top_{i}_class", f"top_{i}_probability")]
  return base[:4] + ranks + base[4:] + ([EXPLANATION] if explain else [])


def row(
  path: str,
  sha256: Optional[str],
  probabilities: Optional[Sequence[float]],
  ranked: Sequence[int],
  class_names: List[str],
  top_k: int = 1,
  error: Optional[str] = None,
  explain: bool = False,
  explanation: Optional[str] = None,
) -> Dict[str, Any]:
  """One file's row; `ranked`: its class ids, most probable first (at least top_k of them, or
  none for a file that was not classified). None where a field is empty."""
  values: Dict[str, Any] = {"path": path, "sha256": sha256}
  for i in range(top_k):
    class_id = ranked[i] if i < len(ranked) else None
    name, p = (None, None) if class_id is None else (class_names[class_id], probabilities[class_id])
    prefix = f"top_{i + 1}_" if i else ""
    values[f"{prefix}class" if i else "predicted_class"] = name
    values[f"{prefix}probability" if i else "top_probability"] = None if p is None else float(p)
  for class_id, name in enumerate(class_names):
    values[f"p_{name}"] = None if probabilities is None else float(probabilities[class_id])
  values["error"] = error
  if explain:
    values[EXPLANATION] = explanation
  return {key: values[key] for key in columns(class_names, top_k, explain)}


def json_line(values: Dict[str, Any], class_names: List[str]) -> str:
  """--json's line and --output FILE.jsonl's: the row plus probabilities ({class: p})."""
  probabilities = None
  if values["predicted_class"] is not None:
    probabilities = {name: values[f"p_{name}"] for name in class_names}
  return json.dumps({**values, "probabilities": probabilities})


def text_line(values: Dict[str, Any], top_k: int = 1) -> str:
  """The plain line: path, then class and score for each of the top_k (tab-separated), then
  the explanation's path with --explain."""
  cells = [values["path"], values["predicted_class"], f"{values['top_probability']:.4f}"]
  for i in range(2, top_k + 1):
    cells += [values[f"top_{i}_class"], f"{values[f'top_{i}_probability']:.4f}"]
  if values.get(EXPLANATION):
    cells.append(values[EXPLANATION])
  return "\t".join(cells)


def write_rows(f: TextIO, fmt: str, rows: List[Dict[str, Any]], class_names: List[str]) -> None:
  """The rows as CSV (a header; quoted by the csv module; text a spreadsheet would run
  neutralised: escape.csv_cell) or JSON lines."""
  if fmt == "csv":
    writer = csv.writer(f)
    if rows:
      writer.writerow(escape.csv_row(rows[0]))
    for values in rows:
      writer.writerow(escape.csv_row("" if v is None else v for v in values.values()))
    return
  for values in rows:
    f.write(json_line(values, class_names) + "\n")


@contextlib.contextmanager
def atomic_output(path: str) -> Iterator[TextIO]:
  """A temporary file in `path`'s folder, renamed to `path` when the block ends without an
  exception, removed otherwise: an interrupted run never leaves half a file under `path`."""
  folder = os.path.dirname(os.path.abspath(path))
  try:
    fd, temp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
  except OSError as e:
    raise UsageError(f"--output {path}: cannot write there ({e.strerror})")
  try:
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temp, 0o666 & ~umask)  # mkstemp's 0600 is not what a user's own file would get
    # surrogateescape: a file name that is not UTF-8 comes back as its own bytes
    with open(fd, "w", newline="", encoding="utf-8", errors="surrogateescape") as f:
      yield f
      f.flush()
      os.fsync(f.fileno())
    os.replace(temp, path)
  except BaseException:
    with contextlib.suppress(OSError):
      os.remove(temp)
    raise


class Progress:
  """--output's progress: "[predict] done/total images" on stderr every PROGRESS_EVERY files
  or PROGRESS_SECONDS, whichever comes first."""

  def __init__(self, total: int):
    self.total, self.shown, self.since = total, 0, time.monotonic()

  def __call__(self, done: int) -> None:
    if done >= self.total:
      return  # the closing line says it
    if done - self.shown >= PROGRESS_EVERY or time.monotonic() - self.since >= PROGRESS_SECONDS:
      print(f"[predict] {done}/{self.total} images", file=sys.stderr, flush=True)
      self.shown, self.since = done, time.monotonic()


def closing_line(
  found: int, classified: int, seconds: float, results: str, explained: Optional[str] = None
) -> str:
  """'[predict] 32 images: 30 classified, 2 failed; 4.1 ms per image; written to p.csv'."""
  per_image = 1000 * seconds / max(found, 1)
  return (
    f"[predict] {found} images: {classified} classified, {found - classified} failed; "
    f"{per_image:.1f} ms per image; {results}"
    + (f"; Grad-CAM images in {explained}" if explained else "")
  )
