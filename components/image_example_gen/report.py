"""ImageExampleGen's ingest report: the Beam steps' shards (counts, rejections, the listing)
merged and checked (found = written + rejected), the one-line verdict on whether the data can
train a model, and the console summary."""

import json
import posixpath
from typing import Any, Dict, Iterator, List, Optional, Sequence

import tensorflow as tf

from components.image_example_gen import files
from schemas import nodes

MAX_LISTED = 10  # names listed in one line, at most
IMBALANCE_RATIO = 10


def _written_classes(split: Dict[str, Any]) -> Dict[str, int]:
  return {c: n["written"] for c, n in split["classes"].items() if n["written"]}


def imbalance_warnings(splits: Dict[str, Any]) -> List[str]:
  """A warning when the largest training class outnumbers the smallest by IMBALANCE_RATIO."""
  counts = _written_classes(splits.get("train", {"classes": {}}))
  if len(counts) < 2:
    return []
  (small, fewest), (large, most) = (
    min(counts.items(), key=lambda kv: kv[1]),
    max(counts.items(), key=lambda kv: kv[1]),
  )
  if most < IMBALANCE_RATIO * fewest:
    return []
  return [
    f"class imbalance in train: {large} has {most} images, {small} only {fewest} "
    f"({most / fewest:.0f}x); consider more {small} images or class weights"
  ]


def _names(names: Sequence[str]) -> str:
  names = list(names)
  more = f" and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else ""
  return ", ".join(names[:MAX_LISTED]) + more


def _class_outcome(report: Dict[str, Any], cls: str) -> str:
  """'zz (no files)' or 'c3 (4 files: 3 unsupported_format, 1 hidden_file)'."""
  reasons: Dict[str, int] = {}
  for rejected in report["rejected_files"]:
    if rejected["class"] == cls:
      reasons[rejected["reason"]] = reasons.get(rejected["reason"], 0) + 1
  found = sum(s["classes"].get(cls, {}).get("found", 0) for s in report["splits"].values())
  if not found:
    return f"{cls} (no files)"
  written = found - sum(reasons.values())
  outcome = ", ".join(f"{n} {r}" for r, n in sorted(reasons.items(), key=lambda kv: -kv[1]))
  if written:
    outcome = f"{written} written, none in train" + (f"; {outcome}" if outcome else "")
  return f"{cls} ({found} file{'s' if found > 1 else ''}: {outcome})"


def training_data_problem(report: Dict[str, Any], expected: Sequence[str]) -> Optional[str]:
  """One line naming the classes and splits that cannot train and evaluate a model, or None.

  Every expected class (named by --classes, else found) needs a written training image, no
  split may be empty, and every eval/test split must hold the classes train has, and no other.
  """
  splits = report["splits"]
  train = set(_written_classes(splits["train"])) if "train" in splits else set()
  problems = []
  no_training = [c for c in expected if c not in train]
  if no_training:
    problems.append(
      "no training image for class(es) " + _names(_class_outcome(report, c) for c in no_training)
    )
  empty = [name for name, split in splits.items() if not split["written"]]
  if empty:
    problems.append(f"split(s) {', '.join(empty)} received no images")
  for name, split in splits.items():
    if name == "train" or not split["written"]:
      continue
    written = set(_written_classes(split))
    if train - written:
      problems.append(
        f"{name} lacks class(es) {_names(sorted(train - written))} that train "
        "has: they cannot be evaluated"
      )
    if written - train:
      problems.append(
        f"class(es) {_names(sorted(written - train))} appear in {name} but not "
        "in train: the model cannot learn them; add training images"
      )
  return "cannot train: " + "; ".join(problems) if problems else None


def format_report(report: Dict[str, Any], stage: str = nodes.EXAMPLE_GEN) -> str:
  rejected = ", ".join(f"{n} {r}" for r, n in report["images_rejected"].items()) or "none"
  lines = [
    f"[{stage}] found {report['images_found']} files: "
    f"{report['images_ingested']} ingested, rejected: {rejected}"
  ]
  for name, split in report["splits"].items():
    lines.append(
      f"[{stage}]   {name}: {split['found']} found, {split['written']} written, "
      f"{sum(split['rejected'].values())} rejected, {len(split['classes'])} classes"
    )
  lines += [
    f"[{stage}] skipped {s}: the pipeline's output dir is never data"
    for s in report.get("skipped_folders", [])
  ]
  lines += [f"[{stage}] warning: {w}" for w in report.get("warnings", [])]
  return "\n".join(lines)


def _read_json_lines(pattern: str) -> Iterator[Any]:
  for path in tf.io.gfile.glob(pattern):
    with tf.io.gfile.GFile(path) as f:
      yield from (json.loads(line) for line in f if line.strip())


def _tally(split: Dict[str, Any], cls: str, written: int = 0, reason: str = "") -> None:
  entry = split["classes"].setdefault(cls, {"found": 0, "written": 0, "rejected": 0})
  count = written or 1
  entry["found"] += count
  split["found"] += count
  if reason:
    entry["rejected"] += 1
    split["rejected"][reason] = split["rejected"].get(reason, 0) + 1
  else:
    entry["written"] += written
    split["written"] += written


def _display_detail(detail: Optional[Dict[str, Any]]) -> Dict[str, Any]:
  def ref(r):
    return {
      "path": files.display(r["path"]),
      "class": files.display(r["class"]),
      "split": r["split"],
    }

  if not detail:
    return {}
  if "duplicate_of" in detail:
    return {"duplicate_of": ref(detail["duplicate_of"])}
  return {
    "conflicts_with": [ref(r) for r in detail["conflicts_with"]],
    "identical_files": detail["identical_files"],
  }


def assemble_report(report_dir: str, split_names: List[str], check: bool = True) -> Dict[str, Any]:
  """Merges the Beam-written shards; checks found = written + rejected."""
  splits = {name: {"found": 0, "written": 0, "rejected": {}, "classes": {}} for name in split_names}
  listing = {"classes": [], "skipped": [], "listed": 0}
  if tf.io.gfile.exists(posixpath.join(report_dir, "listing.json")):
    with tf.io.gfile.GFile(posixpath.join(report_dir, "listing.json")) as f:
      listing = json.load(f)
  for split, cls, count in _read_json_lines(posixpath.join(report_dir, "counts*")):
    _tally(splits[split], cls, written=count)
  rejected_files = sorted(
    (
      [split, files.display(cls), reason, files.display(name), detail]
      for split, cls, reason, name, detail in _read_json_lines(
        posixpath.join(report_dir, "rejected*")
      )
    ),
    key=lambda r: (r[3], r[0]),
  )
  by_reason: Dict[str, int] = {}
  for split, cls, reason, _, _ in rejected_files:
    _tally(splits[split], cls, reason=reason)
    by_reason[reason] = by_reason.get(reason, 0) + 1
  for split in splits.values():
    split["rejected"] = dict(sorted(split["rejected"].items()))
    split["classes"] = dict(sorted(split["classes"].items()))
  ingested = sum(s["written"] for s in splits.values())
  found = listing["listed"] if check else ingested + len(rejected_files)
  if found != ingested + len(rejected_files):
    raise RuntimeError(
      f"{found} files listed but {ingested} ingested + "
      f"{len(rejected_files)} rejected: images were lost"
    )
  return {
    "images_found": found,
    "images_ingested": ingested,
    "images_rejected": dict(sorted(by_reason.items())),
    "rejected_files": [
      dict({"path": p, "split": s, "class": c, "reason": r}, **_display_detail(d))
      for s, c, r, p, d in rejected_files
    ],
    "splits": splits,
    "classes": listing["classes"],
    "skipped_folders": [files.display(s) for s in listing["skipped"]],
    # The folder (or manifest) the paths are below, the span filled in.
    "root": files.display(listing["root"]) if listing.get("root") else None,
  }
