"""ImageExampleGen's two Beam steps: check and hash the files, then decide and write them.

1. `Inspect`, one element per chunk of the listing (listing.py): reads and checks each file
   (checks.py) and hashes its bytes; a rejected file becomes a rejection line, a good one a
   record in the bundle's spool file for its content hash's bucket (spool.py), with its bytes
   when they are small.
2. `Decide`, one element per bucket: byte-identical files (always in one bucket) are written
   once, the first in path order below the data root (the others are `duplicate`, naming it)
   unless keep_duplicates, and identical bytes under different classes are all
   `conflicting_labels`. The kept files become tf.Examples, written in the order of their
   content hash, which mixes the classes; bytes not carried in the spool are read again, and
   rejected as `changed_during_ingest` if they no longer match.
3. `publish` names each split's files, once every bundle is done.

Only file names and counts pass between the steps, so Beam holds nothing per image in memory,
and no image's bytes are ever grouped. This module imports TensorFlow but not TFX, so each Beam
worker process starts in a few seconds.
"""

import collections
import hashlib
import itertools
import json
import posixpath
import uuid
from typing import Any, Dict, Iterable, Iterator, List, NamedTuple, Optional, Tuple

import apache_beam as beam
import tensorflow as tf
from apache_beam.transforms import window

from components.image_example_gen import checks, files, progress, spool
from schemas.features import FILE_NAME_KEY, IMAGE_KEY, LABEL_KEY, SHA256_KEY

REJECTED = "rejected"
COUNTS = "counts"
SHARDS = "shards"
_GZIP = tf.io.TFRecordOptions(compression_type="GZIP")
MAX_LISTED = 10  # names listed in one rejection's detail, at most
CARRY_BYTES = 64 * 1024  # files up to this size travel in the spool rather than being read again


class Row(NamedTuple):  # a tuple, so that a chunk of them is a JSON list
  path: str
  name: str  # below the split root: reported, and hashed for the split
  label: str
  reason: Optional[str]
  split: str  # the output split
  key: str  # below the data root: "path order" among identical files


def _bytes(value: bytes) -> tf.train.Feature:
  return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int(value: int) -> tf.train.Feature:
  return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def make_example(
  data: bytes, name: str, label: str, info, sha256: Optional[str] = None
) -> tf.train.Example:
  """One image's tf.Example; `info` is its checks.ImageInfo (or the spool's list of it)."""
  info = checks.ImageInfo(*info)
  return tf.train.Example(
    features=tf.train.Features(
      feature={
        IMAGE_KEY: _bytes(data),
        LABEL_KEY: _bytes(label.encode()),
        FILE_NAME_KEY: _bytes(files.encode(name)),  # the file system's bytes, UTF-8 or not
        "format": _bytes(checks.sniff_format(data).encode()),
        "height": _int(info.height),
        "width": _int(info.width),
        "channels": _int(info.channels),
        "brightness": tf.train.Feature(float_list=tf.train.FloatList(value=[info.brightness])),
        SHA256_KEY: _bytes((sha256 or hashlib.sha256(data).hexdigest()).encode()),
      }
    )
  )


def rejection(row: Row, reason: str, detail: Optional[Dict[str, Any]] = None) -> str:
  """A rejection as the report reads it: one JSON line (ASCII: names that are not UTF-8 keep
  their bytes as escapes, which Beam's coders could not carry in a str)."""
  return json.dumps([row.split, row.label, reason, row.name, detail])


def _rejected(row: Row, reason: str, detail: Optional[Dict[str, Any]] = None) -> Any:
  return beam.pvalue.TaggedOutput(REJECTED, rejection(row, reason, detail))


def _ref(row: Row) -> Dict[str, str]:
  return {"path": row.name, "class": row.label, "split": row.split}


def record_meta(row: Row, info) -> bytes:
  """What the spool keeps of a checked file besides its hash and bytes (its row and
  checks.ImageInfo): ASCII JSON."""
  return json.dumps([list(row), list(info)], separators=(",", ":")).encode()


def format_count(item: Tuple[str, int]) -> str:
  """[split, class, images written] as one JSON line."""
  key, count = item
  return json.dumps(json.loads(key) + [count])


class Inspect(beam.DoFn):
  """Reads, checks and hashes a chunk's files; spools a record per good file to its bucket.

  Emits the rejections, and at the end of each bundle (bucket, spool file) for every bucket
  it wrote to.
  """

  def __init__(
    self,
    listing: str,
    folder: str,
    buckets: int,
    max_pixels: int,
    min_size: int,
    carry_bytes: int = CARRY_BYTES,
    progress_file: Optional[str] = None,
  ):
    self._listing_path, self._folder, self._buckets = listing, folder, buckets
    self._max_pixels, self._min_size, self._carry = max_pixels, min_size, carry_bytes
    self._progress = progress_file
    self._listing = self._writer = None

  def start_bundle(self):
    self._writer = spool.Writer(self._folder, self._buckets)

  def process(self, chunk: Tuple[int, int]) -> Iterator[Any]:
    offset, size = chunk
    if self._listing is None:
      self._listing = files.open_file(self._listing_path, "rb")
    self._listing.seek(offset)
    rows = json.loads(self._listing.read(size))
    for fields in rows:
      row = Row(*fields)
      reason, data = files.read_file(row.path)
      if not reason:
        reason, info = checks.inspect_image(data, self._max_pixels, self._min_size)
      if reason:
        yield _rejected(row, reason)
        continue
      self._writer.add(
        hashlib.sha256(data).digest(),
        record_meta(row, info),
        data if len(data) <= self._carry else b"",
      )
    progress.add(self._progress, len(rows))

  def finish_bundle(self) -> Iterator[Any]:
    if self._listing is not None:
      self._listing.close()
      self._listing = None
    for written in self._writer.close():
      yield window.GlobalWindows.windowed_value(written)

  def teardown(self):
    if self._listing is not None:
      self._listing.close()


class _Checked(NamedTuple):
  sha256: bytes
  order: bytes  # the key's bytes: path order among identical files
  row: Row
  info: list  # checks.ImageInfo
  source: int  # which of the bucket's spool files ...
  offset: int  # ... and where in it the carried bytes are
  size: int  # (0: not carried)


class Decide(beam.DoFn):
  """One bucket's files: duplicates decided, the kept ones written as tf.Examples.

  Each bundle writes one GZIP TFRecord file per split into `folder` (TensorFlow's writer, as
  cheap as a plain loop's: Beam's WriteToTFRecord costs about twice as much per example) and,
  when it ends, emits (split, file) on SHARDS; publish() gives them their final names, so a
  retried bundle's files are never published. Also emits REJECTED lines and COUNTS
  ('[split, class]', images written).
  """

  def __init__(self, keep_duplicates: bool, folder: str):
    self._keep_duplicates, self._folder = keep_duplicates, folder
    self._writers: Dict[str, Tuple[str, Any]] = {}

  def start_bundle(self):
    self._writers = {}

  def process(self, item: Tuple[int, Iterable[str]]) -> Iterator[Any]:
    _, paths = item
    paths = sorted(paths)
    checked = []
    for source, path in enumerate(paths):
      for record in spool.read(path):
        fields, info = json.loads(record.meta)
        row = Row(*fields)
        checked.append(
          _Checked(
            record.sha256, files.encode(row.key), row, info, source, record.offset, record.size
          )
        )
    checked.sort(key=lambda c: (c.sha256, c.order))
    counts: Dict[Tuple[str, str], int] = collections.Counter()
    opened: Dict[int, Any] = {}
    try:
      for _, same in itertools.groupby(checked, key=lambda c: c.sha256):
        same = list(same)
        for output in self._decide(same, paths, opened):
          if isinstance(output, tuple):
            row, example = output
            counts[row.split, row.label] += 1
            self._write(row.split, example)
          else:
            yield output
    finally:
      for f in opened.values():
        f.close()
    for key, count in counts.items():
      yield beam.pvalue.TaggedOutput(COUNTS, (json.dumps(key), count))

  def _write(self, split: str, example: bytes) -> None:
    if split not in self._writers:
      path = f"{self._folder}/{split}-{uuid.uuid4().hex}.gz"
      self._writers[split] = path, tf.io.TFRecordWriter(path, _GZIP)
    self._writers[split][1].write(example)

  def finish_bundle(self) -> Iterator[Any]:
    for split, (path, writer) in sorted(self._writers.items()):
      writer.close()
      yield beam.pvalue.TaggedOutput(SHARDS, window.GlobalWindows.windowed_value((split, path)))
    self._writers = {}

  def _decide(
    self, same: List[_Checked], paths: List[str], opened: Dict[int, Any]
  ) -> Iterator[Any]:
    """Files with one content: rejections, and (row, serialized example) for the kept."""
    rows = [c.row for c in same]
    if len({row.label for row in rows}) > 1:
      for row in rows:
        others = [_ref(other) for other in rows if other is not row]
        yield _rejected(
          row,
          "conflicting_labels",
          {"conflicts_with": others[:MAX_LISTED], "identical_files": len(rows)},
        )
      return
    kept = same if self._keep_duplicates else same[:1]
    for row in rows[len(kept) :]:
      yield _rejected(row, "duplicate", {"duplicate_of": _ref(rows[0])})
    for c in kept:
      if c.size:  # carried in the spool: the very bytes checked
        if c.source not in opened:
          opened[c.source] = files.open_file(paths[c.source], "rb")
        reason, data = None, spool.read_data(opened[c.source], c.offset, c.size)
      else:
        reason, data = files.read_file(c.row.path)
        if not reason and hashlib.sha256(data).digest() != c.sha256:
          reason = "changed_during_ingest"
      if reason:
        yield _rejected(c.row, reason)
        continue
      example = make_example(data, c.row.name, c.row.label, c.info, c.sha256.hex())
      yield c.row, example.SerializeToString()


def publish(split: str, shards, prefixes: Dict[str, str]) -> int:
  """Moves a split's files (shards[split]: a Beam multimap side input, or a dict of lists) to
  `prefix-SSSSS-of-NNNNN.gz`, the names Beam's WriteToTFRecord gives; a split without any gets
  one empty file. Returns the split's file count."""
  paths = sorted(shards[split])
  count = max(1, len(paths))
  tf.io.gfile.makedirs(posixpath.dirname(prefixes[split]))
  if not paths:
    tf.io.TFRecordWriter(f"{prefixes[split]}-00000-of-00001.gz", _GZIP).close()
  for i, path in enumerate(paths):
    tf.io.gfile.rename(path, f"{prefixes[split]}-{i:05d}-of-{count:05d}.gz", overwrite=True)
  return count
