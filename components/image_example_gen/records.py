"""Reading what ImageExampleGen and InferenceExampleGen wrote: a split of an Examples artifact
(GZIP'd TFRecords of tf.Examples under <uri>/Split-<name>/), one Record per image, in the files'
order. The one reader of those records: the serving check, the TFLite export, the report's
predictions and Grad-CAM pages, and batch inference's CSV (the tf.Example in each
PredictionLog) use it."""

import hashlib
import os
from typing import Iterator, List, NamedTuple, Optional

import tensorflow as tf

from schemas.features import FILE_NAME_KEY, IMAGE_KEY, LABEL_KEY, SHA256_KEY
from schemas.filenames import split_dir


class Record(NamedTuple):
  """One ingested image."""

  image: bytes  # the encoded file, as found
  label: str  # its class name; "" for InferenceExampleGen's unlabelled images
  file_name: str  # below the data root; bytes that are not UTF-8 kept as surrogate escapes
  sha256: str  # hex digest of `image`


def parse(serialized: bytes) -> Record:
  """The Record of one serialized tf.Example."""
  feature = tf.train.Example.FromString(serialized).features.feature

  def text(key: str) -> str:
    value = feature[key].bytes_list.value if key in feature else []
    return value[0].decode("utf-8", "surrogateescape") if value else ""

  image = feature[IMAGE_KEY].bytes_list.value[0]
  return Record(
    image,
    text(LABEL_KEY),
    text(FILE_NAME_KEY),
    text(SHA256_KEY) or hashlib.sha256(image).hexdigest(),
  )


def split_files(examples_uri: str, split: str) -> List[str]:
  """The split's record files, sorted (local or gs://)."""
  return sorted(tf.io.gfile.glob(os.path.join(examples_uri, split_dir(split), "*")))


def read(
  examples_uri: str, split: str, limit: Optional[int] = None, sample_from: Optional[int] = None
) -> Iterator[Record]:
  """The split's records: the first `limit` (all by default); with `sample_from`, `limit` drawn
  with a fixed seed from the first `sample_from` (the same draw on every run: ExampleGen's
  records mix the classes, so a sample spans several)."""
  records = tf.data.TFRecordDataset(split_files(examples_uri, split), compression_type="GZIP")
  if sample_from:
    records = records.take(sample_from).shuffle(sample_from, seed=0, reshuffle_each_iteration=False)
  for record in records.take(limit) if limit else records:
    yield parse(record.numpy())
