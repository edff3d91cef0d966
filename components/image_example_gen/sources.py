"""Where the images are: class-folder trees (plain, pre-split or by span) and CSV manifests.

A source is described once when the pipeline is built (`describe`) and listed by the executor
(`list_candidates`) into Candidates: one per file found, some already carrying a rejection reason
that needs no read (hidden, not an image by name, a link or manifest path leaving the data root,
an unknown class).
"""

import csv
import dataclasses
import os
import posixpath
import re
from typing import Iterator, List, NamedTuple, Optional, Sequence

import tensorflow as tf
from tfx.proto import example_gen_pb2

from components.image_example_gen.checks import has_image_extension

CLASS_PATTERN = "*/*"  # <class>/<entry> below a split root; what the driver fingerprints
SPLIT_FOLDERS = ("train", "eval", "test")
SPAN = "{SPAN}"


class InputError(ValueError):
  """The data source cannot be used at all (as opposed to single files that are rejected)."""


class Candidate(NamedTuple):  # a tuple, so that a chunk of them is a JSON list
  path: str                     # what is read
  name: str                     # path below the data root, as reported and hashed for the split
  label: str
  reason: Optional[str] = None  # rejected before reading, and why


@dataclasses.dataclass(frozen=True)
class Source:
  input_base: str
  input_config: example_gen_pb2.Input
  classes: List[str]
  presplit: bool
  manifest: bool


def _is_remote(path: str) -> bool:
  return "://" in path


def _under(path: str, root: str) -> bool:
  """Whether a local path, links resolved, lies inside root."""
  real, real_root = os.path.realpath(path), os.path.realpath(root)
  return real == real_root or real.startswith(real_root + os.sep)


def _latest_span_root(input_base: str, prefix: str) -> str:
  """The folder of the highest span matching a prefix such as 'images-{SPAN}'."""
  matches = tf.io.gfile.glob(posixpath.join(input_base, prefix.replace(SPAN, "*")))
  regex = re.compile(re.escape(prefix).replace(re.escape(SPAN), r"(\d+)") + "$")
  spans = [(int(m.group(1)), path) for path in matches
           if (m := regex.search(path[len(input_base):].lstrip("/")))]
  if not spans:
    raise InputError(f"no folder matches {posixpath.join(input_base, prefix)}")
  return max(spans)[1]


def class_folders(root: str) -> List[str]:
  """Non-hidden sub-folders of root; an empty one is an InputError."""
  if not tf.io.gfile.isdir(root):
    raise InputError(f"{root} is not a folder")
  classes, empty = [], []
  for name in sorted(n.rstrip("/") for n in tf.io.gfile.listdir(root)):
    path = posixpath.join(root, name)
    if name.startswith(".") or not tf.io.gfile.isdir(path):
      continue
    (classes if tf.io.gfile.listdir(path) else empty).append(name)
  if empty:
    raise InputError(f"empty class folder(s) in {root}: {', '.join(empty)}")
  return classes


def read_manifest(path: str) -> List[dict]:
  with tf.io.gfile.GFile(path) as f:
    reader = csv.DictReader(f)
    if not {"path", "label"} <= set(reader.fieldnames or ()):
      raise InputError(f"manifest {path} needs a header with the columns path,label")
    return [{"path": (row["path"] or "").strip(), "label": (row["label"] or "").strip()}
            for row in reader]


def plain_input_config(prefix: str = "") -> example_gen_pb2.Input:
  """One input split: the class-folder tree at input_base/prefix."""
  return example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(
      name="images", pattern=posixpath.join(prefix, CLASS_PATTERN))])


def describe(data_dir: str, classes: Sequence[str] = ()) -> Source:
  """How to read data_dir: a .csv manifest, pre-split folders, or one class-folder tree."""
  data_dir = data_dir.rstrip("/")
  if data_dir.lower().endswith(".csv"):
    if not tf.io.gfile.exists(data_dir):
      raise InputError(f"manifest {data_dir} not found")
    labels = sorted({row["label"] for row in read_manifest(data_dir) if row["label"]})
    return Source(posixpath.dirname(data_dir) or ".", example_gen_pb2.Input(splits=[
        example_gen_pb2.Input.Split(name="manifest", pattern=posixpath.basename(data_dir))]),
                  list(classes) or labels, presplit=False, manifest=True)
  input_base, prefix = data_dir, ""
  if SPAN in data_dir:
    parts = data_dir.split("/")
    at = next(i for i, part in enumerate(parts) if SPAN in part)
    input_base, prefix = "/".join(parts[:at]), "/".join(parts[at:])
    root = _latest_span_root(input_base, prefix)
  else:
    root = data_dir
  found = class_folders(root)
  split_folders = [s for s in SPLIT_FOLDERS if s in found]
  presplit = {"train", "eval"} <= set(split_folders)
  if presplit:
    splits = [example_gen_pb2.Input.Split(
        name=s, pattern=posixpath.join(prefix, s, CLASS_PATTERN)) for s in split_folders]
    found = class_folders(posixpath.join(root, "train"))
  else:
    splits = plain_input_config(prefix).splits
  return Source(input_base, example_gen_pb2.Input(splits=splits), list(classes) or found,
                presplit=presplit, manifest=False)


def _tree_candidates(root: str, classes: Sequence[str]) -> Iterator[Candidate]:
  """Every file below root (any depth); the class is the first folder below root."""
  remote = _is_remote(root)
  walk = tf.io.gfile.walk(root) if remote else os.walk(root)
  for folder, subfolders, files in walk:
    entries = [(f, False) for f in files]
    if not remote:  # os.walk does not enter linked folders: account for them here
      entries += [(d, True) for d in subfolders if os.path.islink(os.path.join(folder, d))]
    for entry, linked_folder in sorted(entries):
      path = posixpath.join(folder, entry)
      name = posixpath.relpath(path, root)
      label = name.split("/", 1)[0] if "/" in name else ""
      reason = None
      if any(part.startswith(".") for part in name.split("/")):
        reason = "hidden_file"
      elif not remote and os.path.islink(path) and not _under(path, root):
        reason = "symlink_outside_root"
      elif linked_folder:
        reason = "linked_folder"  # inside the root: its files are found where they really are
      elif not label:
        reason = "not_in_class_folder"
      elif not has_image_extension(entry):
        reason = "not_an_image"
      elif classes and label not in classes:
        reason = "unknown_class"
      yield Candidate(path, name, label, reason)


def _manifest_candidates(manifest: str, classes: Sequence[str]) -> Iterator[Candidate]:
  root = posixpath.dirname(manifest)
  for row in read_manifest(manifest):
    written, label = row["path"], row["label"]
    absolute = _is_remote(written) or posixpath.isabs(written)
    name = written if absolute else posixpath.normpath(written)
    path = name if absolute else posixpath.join(root, name)
    reason = None
    if not absolute and (name == ".." or name.startswith("../")):
      reason = "path_outside_root"
    elif not label or (classes and label not in classes):
      reason = "unknown_class"
    elif not has_image_extension(name):
      reason = "not_an_image"
    elif not _is_remote(path) and os.path.islink(path) and not (absolute or _under(path, root)):
      reason = "symlink_outside_root"
    yield Candidate(path, name, label, reason)


def list_candidates(input_base: str, split_pattern: str,
                    classes: Sequence[str] = ()) -> List[Candidate]:
  """The candidates of one input split (its pattern already has the span filled in)."""
  if split_pattern.lower().endswith(".csv"):
    return list(_manifest_candidates(posixpath.join(input_base, split_pattern), classes))
  root = posixpath.join(input_base, split_pattern)
  if root.endswith("/" + CLASS_PATTERN) or split_pattern == CLASS_PATTERN:
    root = root[:-len(CLASS_PATTERN)].rstrip("/")
  return list(_tree_candidates(root, classes))
