"""Where the images are: class-folder trees (plain, pre-split or by span) and CSV manifests.

A source is described once when the pipeline is built (`describe`). At run time the driver lists
it to fingerprint it and the executor lists it to read it, both with `walk_split`, so the cache
key covers exactly what is read. The walk is a stream: no process ever holds the whole listing
(a folder's entries at most; a manifest is read as a stream too). A listing holds one Candidate
per entry found; some already carry a rejection reason that needs no read (hidden, not an image
by name, a link or manifest path leaving the data root, a link loop or dangling link, a FIFO or
device, an unknown class).

Local trees are walked with os.scandir on str paths: a file name that is not UTF-8 keeps its
bytes (surrogate escapes) and is read and ingested as it is; only a class name must be text.
Nothing is opened while listing, and only links and (when fingerprinting) files are stat'ed.
"""

import csv
import dataclasses
import hashlib
import io
import json
import operator
import os
import posixpath
import re
import stat
from typing import Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple

import tensorflow as tf
from tfx.components.example_gen import utils as example_gen_utils
from tfx.proto import example_gen_pb2, range_config_pb2

from components.image_example_gen.checks import has_image_extension, label_problem
from components.image_example_gen.files import display, is_remote, is_text, os_reason  # pylint: disable=unused-import

CLASS_PATTERN = "*/*"  # <class>/... below a split root: "the class-folder tree at this root"
SPLIT_FOLDERS = ("train", "eval", "test")
# TFX's span, version and date placeholders ({SPAN}, {SPAN:4}, {VERSION}, {YYYY}...).
_SPEC = re.compile(
  "|".join(
    [
      example_gen_utils.SPAN_FULL_REGEX,
      example_gen_utils.VERSION_FULL_REGEX.replace("width", "vwidth"),
    ]
    + [re.escape(s) for s in example_gen_utils.DATE_SPECS]
  )
)


class InputError(ValueError):
  """The data source cannot be used at all (as opposed to single files that are rejected)."""


class Candidate(NamedTuple):  # a tuple, so that a chunk of them is a JSON list
  path: str  # what is read
  name: str  # path below the split root, as reported and hashed for the split
  label: str
  reason: Optional[str] = None  # rejected before reading, and why
  # (size, mtime ns, inode, ctime ns) when fingerprinting: ctime changes on any write, even one
  # whose mtime is then put back.
  stamp: Optional[Tuple[int, int, int, int]] = None


@dataclasses.dataclass
class Listing:
  candidates: Iterable[Candidate]  # a list, or (walk_split) an iterator
  classes: List[str]  # class folders (trees) or labels (manifests) found
  skipped: List[str]  # folders not listed: the pipeline's own output dir
  manifest_sha256: str = ""  # of the manifest's bytes


@dataclasses.dataclass(frozen=True, kw_only=True)
class Source:
  input_base: str
  input_config: example_gen_pb2.Input
  classes: List[str]
  presplit: bool
  skip_dirs: Tuple[str, ...] = ()  # never listed as data (the output dir when it is inside)


def _real_root(root: str) -> str:
  return os.path.realpath(root)


def _under(path: str, real_root: str) -> bool:
  """Whether a local path, links resolved, lies inside real_root."""
  real = os.path.realpath(path)
  return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


# --- Spans and versions: TFX's own utilities ------------------------------------------------


def span_path(input_base: str, input_config: str) -> str:
  """The data path as --data-dir names it: input_base, joined with the span folder or manifest
  pattern (`day-{SPAN}`, not the split folders below it) of a JSON input config with one."""
  splits = json.loads(input_config or "{}").get("splits") or [{}]
  parts = splits[0].get("pattern", "").split("/")
  spec = [i for i, part in enumerate(parts) if has_spec(part)]  # below it: train/, */*
  return posixpath.join(input_base, *parts[: spec[-1] + 1]) if spec else input_base


def has_spec(path: str) -> bool:
  """Whether a path has a span, version or date placeholder."""
  return bool(_SPEC.search(path))


def split_root(pattern: str) -> str:
  """What a split pattern names: a tree's root (the pattern less its /*/*), or a manifest."""
  if pattern == CLASS_PATTERN:
    return ""
  if pattern.endswith("/" + CLASS_PATTERN):
    return pattern[: -len(CLASS_PATTERN) - 1]
  return pattern


def resolve_span_and_version(
  input_base: str,
  splits: Sequence[example_gen_pb2.Input.Split],
  range_config: Optional[range_config_pb2.RangeConfig] = None,
) -> Tuple[int, Optional[int], List[example_gen_pb2.Input.Split]]:
  """(span, version, splits with the placeholders filled in), by TFX's ExampleGen utilities.

  The newest span (and its newest version) is looked for among the split roots (the span
  folders or manifests), not among the files below them. The placeholders are filled with the
  text matched (TFX's utility writes it into the roots): `day-{SPAN}` finds `day-03` as span 3.
  """
  roots = [example_gen_pb2.Input.Split(name=s.name, pattern=split_root(s.pattern)) for s in splits]
  where = posixpath.join(input_base, roots[0].pattern) if roots else input_base
  if has_spec(input_base):  # e.g. a compiled spec's data_root given the whole --data-dir
    raise InputError(
      f"{display(input_base)}: the data root is the folder above the span folders, without "
      f"placeholders (the spec has the pattern {roots[0].pattern if roots else ''!r} already)"
    )
  try:
    _, span, version = example_gen_utils.calculate_splits_fingerprint_span_and_version(
      input_base, roots, range_config
    )  # fills each root's placeholders with what matched
  except ValueError as e:
    raise InputError(f"{display(where)}: {e}") from e
  resolved = [
    example_gen_pb2.Input.Split(
      name=split.name, pattern=root.pattern + split.pattern[len(split_root(split.pattern)) :]
    )
    for split, root in zip(splits, roots)
  ]
  return span, version, resolved


def _base_and_prefix(data_dir: str) -> Tuple[str, str]:
  """input_base (no placeholder in it) and the rest of the path, relative to it."""
  if not has_spec(data_dir):
    if data_dir.lower().endswith(".csv"):
      return posixpath.dirname(data_dir) or ".", posixpath.basename(data_dir)
    return data_dir, ""
  parts = data_dir.split("/")
  at = next(i for i, part in enumerate(parts) if has_spec(part))
  return "/".join(parts[:at]) or ("/" if data_dir.startswith("/") else "."), "/".join(parts[at:])


# --- Describing a source when the pipeline is built -------------------------------------------


def _is_skipped(path: str, skip_dirs: Sequence[str]) -> bool:
  if is_remote(path):
    return path.rstrip("/") in {s.rstrip("/") for s in skip_dirs}
  return os.path.realpath(path) in {os.path.realpath(s) for s in skip_dirs}


def class_folders(root: str, skip_dirs: Sequence[str] = ()) -> List[str]:
  """Non-hidden sub-folders of root, less skipped ones; an empty one is an InputError."""
  if not tf.io.gfile.isdir(root):
    raise InputError(f"{display(root)} is not a folder")
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


def _is_dir(entry: os.DirEntry) -> bool:
  try:
    return entry.is_dir()
  except OSError:
    return False


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


def manifest_rows(path: str) -> Iterator[dict]:
  """Rows {path, label} of a CSV manifest (UTF-8, with or without a BOM), read as a stream.

  Bytes that are not UTF-8 are kept as surrogate escapes: such a path still names its file.
  """
  with tf.io.gfile.GFile(path, "rb") as f:
    reader = csv.DictReader(
      io.TextIOWrapper(_Reader(f), encoding="utf-8-sig", errors="surrogateescape", newline="")
    )
    reader.fieldnames = [(n or "").strip().lower() for n in reader.fieldnames or ()]
    if not {"path", "label"} <= set(reader.fieldnames):
      raise InputError(f"manifest {display(path)} needs a header with the columns path,label")
    for row in reader:
      yield {"path": (row["path"] or "").strip(), "label": (row["label"] or "").strip()}


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
  input_base, prefix = _base_and_prefix(data_dir)
  if data_dir.lower().endswith(".csv"):
    split = example_gen_pb2.Input.Split(name="manifest", pattern=prefix)
    _, _, (resolved,) = resolve_span_and_version(input_base, [split])
    manifest = posixpath.join(input_base, resolved.pattern)
    if not tf.io.gfile.exists(manifest):
      raise InputError(f"manifest {display(manifest)} not found")
    found = sorted({row["label"] for row in manifest_rows(manifest) if _is_class(row["label"])})
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
  split_folders = [s for s in SPLIT_FOLDERS if s in found]
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


def _check_named_classes(classes: Sequence[str], found: Sequence[str], where: str) -> None:
  missing = [c for c in classes if c not in found]
  if missing:
    raise InputError(
      f"class(es) named by --classes not found in {display(where)}: "
      f"{', '.join(missing)} (found: {', '.join(map(display, found)) or 'none'})"
    )


# --- Listing at run time (driver and executor) ------------------------------------------------


def _is_class(label: str) -> bool:
  """Whether a label names a class (files under an invalid one are rejected)."""
  return bool(label) and not label_problem(label)


def _name_reason(name: str, label: str, classes: Sequence[str]) -> Optional[str]:
  """Reasons that follow from the name alone, for a file in the tree."""
  if not label:
    return "not_in_class_folder"
  if label_problem(label):
    return label_problem(label)
  if not has_image_extension(name):
    return "not_an_image"
  if classes and label not in classes:
    return "unknown_class"
  return None


_NAME = operator.attrgetter("name")


def _stamp(st: os.stat_result) -> Tuple[int, int, int, int]:
  return (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)


class _LocalTree:
  """Walks a local class-folder tree (os.scandir), never opening a file."""

  def __init__(self, root: str, classes: Sequence[str], skip_dirs: Sequence[str], stamps: bool):
    self.root = root
    self.real_root = _real_root(root)
    self.classes = classes
    self.stamps = stamps
    self.skip = {os.path.realpath(s) for s in skip_dirs if os.path.isdir(s)}
    self.skip_inodes = {os.stat(s).st_ino for s in self.skip}
    self.found_classes: List[str] = []
    self.skipped: List[str] = []
    self._text: Dict[str, bool] = {}

  def _is_text(self, label: str) -> bool:
    if label not in self._text:
      self._text[label] = is_text(label)
    return self._text[label]

  def _skipped(self, entry: os.DirEntry) -> bool:
    try:
      return entry.inode() in self.skip_inodes and os.path.realpath(entry.path) in self.skip
    except OSError:
      return False

  def candidates(self) -> Iterator[Candidate]:
    stack = [(self.root, "")]
    while stack:
      folder, rel = stack.pop()
      try:
        with os.scandir(folder) as it:
          entries = sorted(it, key=_NAME)
      except OSError as e:  # the root itself was checked by describe(); a sub-folder
        yield Candidate(folder, rel, rel.split("/", 1)[0], os_reason(e))
        continue
      subfolders = []
      for entry in entries:
        name = f"{rel}/{entry.name}" if rel else entry.name
        label = name.split("/", 1)[0] if rel else ""
        try:
          is_folder = entry.is_dir(follow_symlinks=False)
        except OSError:
          is_folder = False
        if is_folder:
          if self._skipped(entry):
            self.skipped.append(name)
          elif entry.name.startswith("."):
            yield Candidate(entry.path, name, label or entry.name, "hidden_file")
          else:
            if not rel and _is_class(entry.name):
              self.found_classes.append(display(entry.name))
            subfolders.append((entry.path, name))
          continue
        yield self._candidate(entry, name, label)
      stack.extend(reversed(subfolders))

  def _candidate(self, entry: os.DirEntry, name: str, label: str) -> Candidate:
    path = entry.path
    if entry.name.startswith("."):  # hidden folders are not entered
      return Candidate(path, name, label, "hidden_file")
    try:
      is_link = entry.is_symlink()
      st = os.stat(path) if is_link else None  # follows the link
    except OSError as e:
      return Candidate(path, name, label, os_reason(e))
    if is_link and stat.S_ISDIR(st.st_mode) and not label:  # a linked class folder
      label = entry.name
      if _is_class(label):
        self.found_classes.append(display(label))
    if label and not self._is_text(label):
      return Candidate(path, name, label, "undecodable_name")
    if is_link and not _under(path, self.real_root):
      return Candidate(path, name, label, "symlink_outside_root")
    if is_link and stat.S_ISDIR(st.st_mode):
      return Candidate(path, name, label, "linked_folder")  # its files are found where they are
    regular = stat.S_ISREG(st.st_mode) if is_link else entry.is_file(follow_symlinks=False)
    if not regular:  # FIFO, socket, device: never opened
      return Candidate(path, name, label, "not_a_regular_file")
    reason = _name_reason(name, label, self.classes)
    if reason or not self.stamps:
      return Candidate(path, name, label, reason)
    try:
      return Candidate(path, name, label, None, _stamp(st or entry.stat()))
    except OSError as e:
      return Candidate(path, name, label, os_reason(e))


def _remote_tree(
  root: str,
  classes: Sequence[str],
  skip_dirs: Sequence[str],
  stamps: bool,
  found_classes: List[str],
  skipped: List[str],
) -> Iterator[Candidate]:
  """A class-folder tree on GCS (or another tf.io.gfile file system): no links there."""
  skip = {s.rstrip("/") for s in skip_dirs}
  for folder, subfolders, files in tf.io.gfile.walk(root):
    folder = folder.rstrip("/")
    rel = posixpath.relpath(folder, root) if folder != root.rstrip("/") else ""
    for sub in list(subfolders):
      path = posixpath.join(folder, sub.rstrip("/"))
      name = posixpath.join(rel, sub.rstrip("/")) if rel else sub.rstrip("/")
      if path in skip:
        skipped.append(name)
        subfolders.remove(sub)
      elif sub.startswith("."):
        subfolders.remove(sub)
        yield Candidate(path, name, name.split("/", 1)[0], "hidden_file")
      elif not rel and _is_class(sub.rstrip("/")):
        found_classes.append(sub.rstrip("/"))
    for entry in sorted(files):
      path = posixpath.join(folder, entry)
      name = posixpath.join(rel, entry) if rel else entry
      label = name.split("/", 1)[0] if rel else ""
      reason = (
        "hidden_file"
        if any(p.startswith(".") for p in name.split("/"))
        else _name_reason(name, label, classes)
      )
      stamp = None
      if stamps and not reason:
        st = tf.io.gfile.stat(path)
        stamp = (st.length, st.mtime_nsec, 0, 0)
      yield Candidate(path, name, label, reason, stamp)


def _manifest_candidates(
  manifest: str, rows: Iterable[dict], classes: Sequence[str], stamps: bool
) -> Iterator[Candidate]:
  """One candidate per row. A relative path must stay, links resolved, in the manifest's
  folder (else path_outside_root); an absolute one (or gs://) may be anywhere."""
  root = posixpath.dirname(manifest) or "."
  real_root = None if is_remote(root) else _real_root(root)
  for row in rows:
    written, label = row["path"], row["label"]
    absolute = is_remote(written) or posixpath.isabs(written)
    name = written if absolute else posixpath.normpath(written)
    path = written if absolute else posixpath.join(root, written)
    if not is_text(label):
      yield Candidate(path, name, label, "undecodable_name")
    elif label and label_problem(label):
      yield Candidate(path, name, label, label_problem(label))
    elif not label or (classes and label not in classes):
      yield Candidate(path, name, label, "unknown_class")
    elif not absolute and (
      real_root is None
      and (name == ".." or name.startswith("../"))
      or real_root is not None
      and not _under(path, real_root)
    ):
      yield Candidate(path, name, label, "path_outside_root")
    elif not has_image_extension(name):
      yield Candidate(path, name, label, "not_an_image")
    elif is_remote(path):
      stamp = None
      if stamps:
        try:
          st = tf.io.gfile.stat(path)
          stamp = (st.length, st.mtime_nsec, 0, 0)
        except tf.errors.NotFoundError:
          pass  # reported as missing_file when read
      yield Candidate(path, name, label, None, stamp)
    else:
      try:
        st = os.stat(path)
      except OSError as e:
        yield Candidate(path, name, label, os_reason(e))
        continue
      if not stat.S_ISREG(st.st_mode):
        yield Candidate(path, name, label, "not_a_regular_file")
      else:
        yield Candidate(path, name, label, None, _stamp(st) if stamps else None)


def walk_split(
  input_base: str,
  split_pattern: str,
  classes: Sequence[str] = (),
  skip_dirs: Sequence[str] = (),
  stamps: bool = False,
) -> Listing:
  """Everything one input split holds (its pattern already has the span filled in), as found.

  The listing's `candidates` is an iterator that holds nothing (one folder's entries at most);
  its `classes` and `skipped` are complete once it is exhausted. `stamps`:
  also record each readable file's size, modification time and inode (what the driver
  fingerprints); the executor does without.
  """
  listing = Listing(iter(()), [], [])
  if split_pattern.lower().endswith(".csv"):
    manifest = posixpath.join(input_base, split_pattern)
    if not tf.io.gfile.exists(manifest):
      raise InputError(f"manifest {display(manifest)} not found")
    listing.manifest_sha256 = file_sha256(manifest)
    labels = set()

    def rows():
      for row in manifest_rows(manifest):
        if _is_class(row["label"]) and (not classes or row["label"] in classes):
          labels.add(display(row["label"]))
        yield row

    listing.candidates = _then(
      _manifest_candidates(manifest, rows(), classes, stamps),
      lambda: listing.classes.extend(sorted(labels)),
    )
    return listing
  root = posixpath.join(input_base, split_root(split_pattern)).rstrip("/") or input_base
  if not tf.io.gfile.isdir(root):
    raise InputError(f"{display(root)} is not a folder")
  if is_remote(root):
    found = []
    candidates = _remote_tree(root, classes, skip_dirs, stamps, found, listing.skipped)
  else:
    tree = _LocalTree(root, classes, skip_dirs, stamps)
    found, listing.skipped = tree.found_classes, tree.skipped
    candidates = tree.candidates()
  listing.candidates = _then(candidates, lambda: listing.classes.extend(sorted(set(found))))
  return listing


def _then(items: Iterator[Candidate], done) -> Iterator[Candidate]:
  yield from items
  done()


def list_split(
  input_base: str,
  split_pattern: str,
  classes: Sequence[str] = (),
  skip_dirs: Sequence[str] = (),
  stamps: bool = False,
) -> Listing:
  """walk_split's listing with its candidates in a list."""
  listing = walk_split(input_base, split_pattern, classes, skip_dirs, stamps)
  listing.candidates = list(listing.candidates)
  return listing


def list_candidates(
  input_base: str, split_pattern: str, classes: Sequence[str] = ()
) -> List[Candidate]:
  """The candidates of one input split (its pattern already has the span filled in)."""
  return list_split(input_base, split_pattern, classes).candidates
