"""Reading the pipeline's outputs in tests: GZIP'd TFRecords of tf.Examples, by file or by split
of an Examples artifact (`<uri>/Split-<name>/*`)."""

import glob
import os
from typing import List, Sequence, Tuple, Union

import tensorflow as tf

from components.image_example_gen import checks, ingest
from components.image_example_gen.records import split_files
from schemas.filenames import split_dir


def write_split(
  uri: str, split: str, images: Sequence[Tuple[str, bytes, str]], shards: int = 1
) -> None:
  """Writes (file name, encoded image, label) records into <uri>/Split-<split>/ as
  ImageExampleGen does (ingest.make_example, GZIP'd TFRecords), in order over `shards` files."""
  folder = os.path.join(uri, split_dir(split))
  os.makedirs(folder, exist_ok=True)
  size = -(-len(images) // shards)
  options = tf.io.TFRecordOptions(compression_type="GZIP")
  for shard in range(shards):
    path = os.path.join(folder, f"data_tfrecord-{shard:05d}-of-{shards:05d}.gz")
    with tf.io.TFRecordWriter(path, options) as writer:
      for name, data, label in images[shard * size : (shard + 1) * size]:
        info = checks.inspect_image(data, 1 << 30)[1]
        writer.write(ingest.make_example(data, name, label, info).SerializeToString())


def serialized(files: Union[str, Sequence[str]]) -> List[bytes]:
  return [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def examples(files: Union[str, Sequence[str]]) -> List[tf.train.Example]:
  return [tf.train.Example.FromString(r) for r in serialized(files)]


def split_examples(uri: str, split: str) -> List[tf.train.Example]:
  return examples(split_files(uri, split))


def feature(example: tf.train.Example, key: str) -> Union[bytes, int, float]:
  """The first value of a feature, whatever its kind."""
  value = example.features.feature[key]
  return (value.bytes_list.value or value.int64_list.value or value.float_list.value)[0]


def images_and_labels(found: Sequence[tf.train.Example]) -> List[Tuple[bytes, str]]:
  """(encoded image, class name) of ExampleGen's examples."""
  return [(feature(e, "image"), feature(e, "label").decode()) for e in found]


def newest_examples(output_dir: str) -> str:
  """The newest ImageExampleGen output of a local run's output dir."""
  return max(
    glob.glob(os.path.join(output_dir, "pipeline", "ImageExampleGen", "examples", "*")),
    key=lambda path: int(os.path.basename(path)),
  )
