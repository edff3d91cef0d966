"""Describing a data source when the pipeline is built: a CSV manifest, pre-split folders
(train/, eval/, test/) or one class-folder tree, maybe below a span folder.

`describe` reads only what it needs to tell which (the newest span's class folders, or a
manifest's labels); what a split holds is listed at run time (walk.py).
"""

import dataclasses
import os
import posixpath
from typing import List, Sequence, Tuple

import tensorflow as tf
from tfx.proto import example_gen_pb2

from components.image_example_gen.checks import is_class, label_problem
from components.image_example_gen.errors import InputError
from components.image_example_gen.files import display, is_remote
from components.image_example_gen.manifest import manifest_rows
from components.image_example_gen.spans import (
  CLASS_PATTERN,
  base_and_prefix,
  resolve_span_and_version,
  split_root,
)
from schemas import filenames


@dataclasses.dataclass(frozen=True, kw_only=True)
class Source:
  input_base: str
  input_config: example_gen_pb2.Input
  classes: List[str]
  presplit: bool
  skip_dirs: Tuple[str, ...] = ()  # never listed as data (the output dir when it is inside)


def _is_skipped(path: str, skip_dirs: Sequence[str]) -> bool:
  if is_remote(path):
    return path.rstrip("/") in {s.rstrip("/") for s in skip_dirs}
  return os.path.realpath(path) in {os.path.realpath(s) for s in skip_dirs}


def class_folders(root: str, skip_dirs: Sequence[str] = ()) -> List[str]:
  """Non-hidden sub-folders of root, less skipped ones; an empty one is an InputError."""
  if not tf.io.gfile.isdir(root):
    raise InputError(f"{display(root)} {_not_a_folder(root)}")
  classes, empty = [], []
  if is_remote(root):
    names = [n.rstrip("/") for n in tf.io.gfile.listdir(root)]
    folders = [n for n in names if tf.io.gfile.isdir(posixpath.join(root, n))]
    list_folder = tf.io.gfile.listdir
  else:
    with os.scandir(root) as entries:
      folders = [e.name for e in entries if _is_dir(e)]
    list_folder = os.listdir
  for name in sorted(folders):
    path = posixpath.join(root, name)
    if name.startswith(".") or _is_skipped(path, skip_dirs) or label_problem(name):
      continue  # an invalid name's files are rejected as invalid_label when listed
    (classes if list_folder(path) else empty).append(name)
  if empty:
    raise InputError(f"empty class folder(s) in {display(root)}: {', '.join(map(display, empty))}")
  return classes


def _not_a_folder(path: str) -> str:
  """Why a path that is no folder is not one."""
  return "is not a folder" if tf.io.gfile.exists(path) else "does not exist"


def _is_dir(entry: os.DirEntry) -> bool:
  try:
    return entry.is_dir()
  except OSError:
    return False


def plain_input_config(prefix: str = "") -> example_gen_pb2.Input:
  """One input split: the class-folder tree at input_base/prefix."""
  return example_gen_pb2.Input(
    splits=[
      example_gen_pb2.Input.Split(name="images", pattern=posixpath.join(prefix, CLASS_PATTERN))
    ]
  )


def describe(data_dir: str, classes: Sequence[str] = (), skip_dirs: Sequence[str] = ()) -> Source:
  """How to read data_dir: a .csv manifest, pre-split folders, or one class-folder tree.

  A placeholder ({SPAN}, {SPAN:n}, {VERSION}, {YYYY}/{MM}/{DD}) in the path is kept in the
  input config (the driver fills it at each run); the newest span is inspected here.
  `skip_dirs` (the output dir) are never listed as data.
  """
  data_dir = data_dir.rstrip("/") or "/"
  input_base, prefix = base_and_prefix(data_dir)
  if data_dir.lower().endswith(".csv"):
    split = example_gen_pb2.Input.Split(name="manifest", pattern=prefix)
    _, _, (resolved,) = resolve_span_and_version(input_base, [split])
    manifest = posixpath.join(input_base, resolved.pattern)
    if not tf.io.gfile.exists(manifest):
      raise InputError(f"manifest {display(manifest)} does not exist")
    found = sorted({row["label"] for row in manifest_rows(manifest) if is_class(row["label"])})
    _check_named_classes(classes, found, manifest)
    return Source(
      input_base=input_base,
      input_config=example_gen_pb2.Input(splits=[split]),
      classes=list(classes) or found,
      presplit=False,
      skip_dirs=tuple(skip_dirs),
    )
  _, _, (resolved,) = resolve_span_and_version(
    input_base, [example_gen_pb2.Input.Split(name="images", pattern=prefix)]
  )
  root = (
    posixpath.join(input_base, resolved.pattern).rstrip("/") if resolved.pattern else (input_base)
  )
  found = class_folders(root, skip_dirs)
  split_folders = [s for s in filenames.SPLIT_FOLDERS if s in found]
  presplit = {"train", "eval"} <= set(split_folders)
  if presplit:
    splits = [
      example_gen_pb2.Input.Split(name=s, pattern=posixpath.join(prefix, s, CLASS_PATTERN))
      for s in split_folders
    ]
    found = class_folders(posixpath.join(root, "train"), skip_dirs)
  else:
    splits = plain_input_config(prefix).splits
  _check_named_classes(classes, found, root)
  return Source(
    input_base=input_base,
    input_config=example_gen_pb2.Input(splits=splits),
    classes=list(classes) or found,
    presplit=presplit,
    skip_dirs=tuple(skip_dirs),
  )


def describe_unlabelled(data_dir: str, skip_dirs: Sequence[str] = (), check: bool = True) -> Source:
  """How to read images to classify: a folder (images at any depth, no class folders) or a
  .csv manifest with a path column, either maybe with a {SPAN}; one input split, filenames.INFER_SPLIT.
  `check`: the folder or manifest (its newest span) must exist (an InputError otherwise)."""
  data_dir = data_dir.rstrip("/") or "/"
  input_base, prefix = base_and_prefix(data_dir)
  manifest = data_dir.lower().endswith(".csv")
  split = example_gen_pb2.Input.Split(
    name=filenames.INFER_SPLIT,
    pattern=prefix if manifest else posixpath.join(prefix, CLASS_PATTERN),
  )
  if check:
    _, _, (resolved,) = resolve_span_and_version(input_base, [split])
    where = posixpath.join(input_base, split_root(resolved.pattern)).rstrip("/") or input_base
    if manifest and not tf.io.gfile.exists(where):
      raise InputError(f"manifest {display(where)} does not exist")
    if not manifest and not tf.io.gfile.isdir(where):
      raise InputError(f"{display(where)} {_not_a_folder(where)}")
  return Source(
    input_base=input_base,
    input_config=example_gen_pb2.Input(splits=[split]),
    classes=[],
    presplit=True,  # one output split, the input's
    skip_dirs=tuple(skip_dirs),
  )


def _check_named_classes(classes: Sequence[str], found: Sequence[str], where: str) -> None:
  missing = [c for c in classes if c not in found]
  if missing:
    raise InputError(
      f"class(es) named by --classes not found in {display(where)}: "
      f"{', '.join(missing)} (found: {', '.join(map(display, found)) or 'none'})"
    )
