"""The executor's listing: every input split walked once and streamed into a chunked file.

No process holds the listing: each entry is written as it is found, with its output split
already assigned (a hash of its path, or its pre-split folder). A file to be read goes into a
chunk, one JSON line of rows in `listing.jsonl` (a chunk is one Beam element, so Beam's
per-element cost is paid per chunk rather than per file); an entry rejected by its name alone
(hidden, not an image, a link out of the root, ...) is written at once as a rejection line.
"""

import bisect
import hashlib
import json
import posixpath
from typing import Any, Dict, List, Optional, Sequence, Tuple

from tfx.proto import example_gen_pb2

from components.image_example_gen import files, walk
from components.image_example_gen.ingest import Row
from components.image_example_gen.spans import split_root

LISTING_FILE = "listing.jsonl"
REJECTED_FILE = "rejected-listing.jsonl"  # matches the report's rejected* lines
MAX_CHUNK = 200  # files per chunk, at most ...
MIN_CHUNKS = 64  # ... and smaller chunks until this many, so that small inputs still spread out


def _varint(n: int) -> bytes:
  out = bytearray()
  while n > 0x7F:
    out.append(n & 0x7F | 0x80)
    n >>= 7
  out.append(n)
  return bytes(out)


# The two fields' tags and lengths before a value of n < 126 bytes (one-byte varints).
_HEADS = [bytes((0x0A, n + 2, 0x0A, n)) for n in range(126)]


class SplitOf:
  """The output split a file name hashes to: TFX's ExampleGen partition (the sha256 of the
  partition feature, a one-value BytesList, serialized) without building a tf.Example."""

  def __init__(self, split_config: example_gen_pb2.SplitConfig):
    self._names = [s.name for s in split_config.splits]
    self._buckets: List[int] = []
    for split in split_config.splits:
      self._buckets.append((self._buckets[-1] if self._buckets else 0) + split.hash_buckets)

  def __call__(self, name: str) -> str:
    value = files.encode(name)
    if len(value) < len(_HEADS):
      key = _HEADS[len(value)] + value
    else:
      inner = b"\x0a" + _varint(len(value)) + value  # BytesList.value
      key = b"\x0a" + _varint(len(inner)) + inner  # Feature.bytes_list
    bucket = int.from_bytes(hashlib.sha256(key).digest(), "big") % self._buckets[-1]
    return self._names[bisect.bisect(self._buckets, bucket)]


class _Chunks:
  """Rows to be read, written as chunk lines; remembers each line's (offset, size)."""

  def __init__(self, f):
    self._f, self._rows = f, []
    self.refs: List[Tuple[int, int]] = []
    self.rows = self._offset = 0
    self._size = 1  # of the chunk being filled

  def add(self, row: Row) -> None:
    self._rows.append(row)
    if len(self._rows) >= self._size:
      self.flush()

  def flush(self) -> None:
    if self._rows:
      line = json.dumps(self._rows, separators=(",", ":")).encode() + b"\n"  # ASCII
      self._f.write(line)
      self.refs.append((self._offset, len(line)))
      self._offset += len(line)
      self.rows += len(self._rows)
      self._rows = []
      self._size = min(MAX_CHUNK, max(1, self.rows // MIN_CHUNKS))


def write_listing(
  folder: str,
  input_base: str,
  input_config: example_gen_pb2.Input,
  split_config: Optional[example_gen_pb2.SplitConfig],
  classes: Sequence[str] = (),
  skip_dirs: Sequence[str] = (),
  unlabelled: bool = False,
) -> Dict[str, Any]:
  """Walks every input split into folder/LISTING_FILE and folder/REJECTED_FILE (unlabelled:
  images to classify, walk.walk_split).

  Returns what was found: `classes`, `skipped` folders, the data `root`, `listed` (entries),
  `to_read` (files in chunks) and `chunks`, the (offset, size) of each chunk's line.
  """
  split_of = SplitOf(split_config) if split_config and split_config.splits else None
  found_classes, skipped, listed = set(), [], 0
  with (
    files.open_file(posixpath.join(folder, LISTING_FILE), "wb") as out,
    files.open_file(posixpath.join(folder, REJECTED_FILE), "wb") as rejected,
  ):
    chunks = _Chunks(out)
    for split in input_config.splits:
      listing = walk.walk_split(
        input_base, split.pattern, classes, skip_dirs, unlabelled=unlabelled
      )
      manifest = split.pattern.lower().endswith(".csv")
      prefix = "" if manifest else split_root(split.pattern)
      for c in listing.candidates:
        listed += 1
        row = Row(
          c.path,
          c.name,
          c.label,
          c.reason,
          split_of(c.name) if split_of else split.name,
          posixpath.join(prefix, c.name) if prefix else c.name,
        )
        if row.reason:
          rejected.write(
            json.dumps([row.split, row.label, row.reason, row.name, None]).encode() + b"\n"
          )
        else:
          chunks.add(row)
      found_classes.update(listing.classes)
      skipped += [posixpath.join(split_root(split.pattern), s) for s in listing.skipped]
    chunks.flush()
  root = input_base
  if input_config.splits:
    root = posixpath.join(input_base, split_root(input_config.splits[0].pattern))
  return {
    "classes": sorted(found_classes),
    "skipped": skipped,
    "root": root,
    "listed": listed,
    "to_read": chunks.rows,
    "chunks": chunks.refs,
  }
