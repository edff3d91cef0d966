"""Listing one input split as found: a class-folder tree (local or remote) or a manifest's rows.

The driver lists a split to fingerprint it and the executor lists it to read it, both with
`walk_split`, so the cache key covers exactly what is read. The walk is a stream: no process
ever holds the whole listing (a folder's entries at most; a manifest is read as a stream too).
A listing holds one Candidate per entry found; some already carry a rejection reason that needs
no read (hidden, not an image by name, a link or manifest path leaving the data root, a link
loop or dangling link, a FIFO or device, an unknown class).

Local trees are walked with os.scandir on str paths: a file name that is not UTF-8 keeps its
bytes (surrogate escapes) and is read and ingested as it is; only a class name must be text.
Nothing is opened while listing, and only links and (when fingerprinting) files are stat'ed.
"""

import dataclasses
import operator
import os
import posixpath
import stat
from typing import Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple

import tensorflow as tf

from components.image_example_gen.checks import has_image_extension, is_class, label_problem
from components.image_example_gen.errors import InputError
from components.image_example_gen.files import display, is_remote, is_text, os_reason
from components.image_example_gen.manifest import file_sha256, manifest_rows
from components.image_example_gen.spans import split_root


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


def _real_root(root: str) -> str:
  return os.path.realpath(root)


def _under(path: str, real_root: str) -> bool:
  """Whether a local path, links resolved, lies inside real_root."""
  real = os.path.realpath(path)
  return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def _name_reason(
  name: str, label: str, classes: Sequence[str], unlabelled: bool = False
) -> Optional[str]:
  """Reasons that follow from the name alone, for a file in the tree (unlabelled: only the
  extension counts)."""
  if unlabelled:
    return None if has_image_extension(name) else "not_an_image"
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

  def __init__(
    self,
    root: str,
    classes: Sequence[str],
    skip_dirs: Sequence[str],
    stamps: bool,
    unlabelled: bool = False,
  ):
    self.root = root
    self.unlabelled = unlabelled
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
        label = name.split("/", 1)[0] if rel and not self.unlabelled else ""
        try:
          is_folder = entry.is_dir(follow_symlinks=False)
        except OSError:
          is_folder = False
        if is_folder:
          if self._skipped(entry):
            self.skipped.append(name)
          elif entry.name.startswith("."):
            yield Candidate(
              entry.path, name, "" if self.unlabelled else label or entry.name, "hidden_file"
            )
          else:
            if not rel and is_class(entry.name) and not self.unlabelled:
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
    if is_link and stat.S_ISDIR(st.st_mode) and not label and not self.unlabelled:
      # a linked class folder
      label = entry.name
      if is_class(label):
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
    reason = _name_reason(name, label, self.classes, self.unlabelled)
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
  unlabelled: bool = False,
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
        yield Candidate(path, name, "" if unlabelled else name.split("/", 1)[0], "hidden_file")
      elif not rel and is_class(sub.rstrip("/")) and not unlabelled:
        found_classes.append(sub.rstrip("/"))
    for entry in sorted(files):
      path = posixpath.join(folder, entry)
      name = posixpath.join(rel, entry) if rel else entry
      label = name.split("/", 1)[0] if rel and not unlabelled else ""
      reason = (
        "hidden_file"
        if any(p.startswith(".") for p in name.split("/"))
        else _name_reason(name, label, classes, unlabelled)
      )
      stamp = None
      if stamps and not reason:
        st = tf.io.gfile.stat(path)
        stamp = (st.length, st.mtime_nsec, 0, 0)
      yield Candidate(path, name, label, reason, stamp)


def _manifest_candidates(
  manifest: str, rows: Iterable[dict], classes: Sequence[str], stamps: bool, unlabelled: bool
) -> Iterator[Candidate]:
  """One candidate per row. A relative path must stay, links resolved, in the manifest's
  folder (else path_outside_root); an absolute one (or gs://) may be anywhere. Unlabelled:
  the label column (optional) is not read."""
  root = posixpath.dirname(manifest) or "."
  real_root = None if is_remote(root) else _real_root(root)
  for row in rows:
    written, label = row["path"], "" if unlabelled else row["label"]
    absolute = is_remote(written) or posixpath.isabs(written)
    name = written if absolute else posixpath.normpath(written)
    path = written if absolute else posixpath.join(root, written)
    if unlabelled:
      pass  # no label to check
    elif not is_text(label):
      yield Candidate(path, name, label, "undecodable_name")
      continue
    elif label and label_problem(label):
      yield Candidate(path, name, label, label_problem(label))
      continue
    elif not label or (classes and label not in classes):
      yield Candidate(path, name, label, "unknown_class")
      continue
    if not absolute and (
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
  unlabelled: bool = False,
) -> Listing:
  """Everything one input split holds (its pattern already has the span filled in), as found.

  `unlabelled`: images to classify, at any depth, with no class (a manifest's label column is
  optional and ignored).

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
      for row in manifest_rows(manifest, labelled=not unlabelled):
        if not unlabelled and is_class(row["label"]) and (not classes or row["label"] in classes):
          labels.add(display(row["label"]))
        yield row

    listing.candidates = _then(
      _manifest_candidates(manifest, rows(), classes, stamps, unlabelled),
      lambda: listing.classes.extend(sorted(labels)),
    )
    return listing
  root = posixpath.join(input_base, split_root(split_pattern)).rstrip("/") or input_base
  if not tf.io.gfile.isdir(root):
    raise InputError(f"{display(root)} is not a folder")
  if is_remote(root):
    found = []
    candidates = _remote_tree(root, classes, skip_dirs, stamps, found, listing.skipped, unlabelled)
  else:
    tree = _LocalTree(root, classes, skip_dirs, stamps, unlabelled)
    found, listing.skipped = tree.found_classes, tree.skipped
    candidates = tree.candidates()
  listing.candidates = _then(candidates, lambda: listing.classes.extend(sorted(set(found))))
  return listing


def _then(items: Iterator[Candidate], done) -> Iterator[Candidate]:
  yield from items
  done()
