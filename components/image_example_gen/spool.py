"""Checked files' records, spooled to disk in buckets by content hash.

Duplicate detection needs every file with the same bytes in one place. A Beam GroupByKey would
do it, but Beam's DirectRunner holds a group-by's whole input in memory; here each bundle of
checked files appends one record per file to one file per bucket (the first bytes of the
file's sha256, modulo the bucket count), and a later step reads one bucket's files at a time.
Byte-identical files always share a bucket, and a bucket holds a fixed share of the files.

A record: a 40-byte header (the sha256, the metadata's length, the data's length), the
metadata (ASCII JSON) and, for small files, their bytes, so that those are not read again.
"""

import struct
import uuid
from typing import Dict, Iterator, List, NamedTuple, Tuple

from components.image_example_gen import files

_HEADER = struct.Struct("<32sII")


def bucket_of(sha256: bytes, buckets: int) -> int:
  return int.from_bytes(sha256[:8], "big") % buckets


class Record(NamedTuple):
  sha256: bytes  # the digest itself (32 bytes)
  meta: bytes
  offset: int  # where the carried bytes start in the spool file
  size: int  # how many there are (0: not carried)


class Writer:
  """One bundle's records, one file per bucket (named bucket-uuid), opened when first needed."""

  def __init__(self, folder: str, buckets: int):
    self._folder, self._buckets = folder, buckets
    self._tag = uuid.uuid4().hex
    self._open: Dict[int, Tuple[str, object]] = {}

  def add(self, sha256: bytes, meta: bytes, data: bytes = b"") -> None:
    bucket = bucket_of(sha256, self._buckets)
    if bucket not in self._open:
      path = f"{self._folder}/{bucket:05d}-{self._tag}.rec"
      self._open[bucket] = path, files.open_file(path, "wb")
    f = self._open[bucket][1]
    f.write(_HEADER.pack(sha256, len(meta), len(data)))
    f.write(meta)
    if data:
      f.write(data)

  def close(self) -> List[Tuple[int, str]]:
    """(bucket, path) of every file written."""
    written = []
    for bucket, (path, f) in sorted(self._open.items()):
      f.close()
      written.append((bucket, path))
    self._open = {}
    return written


def read(path: str) -> Iterator[Record]:
  """A spool file's records, skipping over the carried bytes."""
  with files.open_file(path, "rb") as f:
    offset = 0
    while True:
      header = f.read(_HEADER.size)
      if not header:
        return
      sha256, meta_size, size = _HEADER.unpack(header)
      meta = f.read(meta_size)
      offset += _HEADER.size + meta_size
      if size:
        f.seek(size, 1)
      yield Record(sha256, meta, offset, size)
      offset += size


def read_data(f, offset: int, size: int) -> bytes:
  """The bytes a record carries (Record.offset, .size), from its spool file opened to read."""
  f.seek(offset)
  return f.read(size)
