"""Transform's preprocessing_fn: decode, fix channels, resize, scale; class name -> id."""

import os
import uuid
from typing import Any, Dict, Iterable

import apache_beam as beam
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tensorflow_transform.beam.experimental import analyzer_impls

from trainer_module.constants import (IMAGE_KEY, IMAGE_XF, LABEL_COUNTS, LABEL_KEY, LABEL_VOCAB,
                                      LABEL_XF)


def decode_images(image_bytes: tf.Tensor, image_size: int, channels: int) -> tf.Tensor:
  """[batch] encoded images of any supported format -> float32 [batch, size, size, channels].

  Values are in [0, 1] whatever the source bit depth; grayscale and colour inputs are converted
  to `channels`. Shared by Transform and the raw-bytes serving signature.
  """

  def decode_one(data: tf.Tensor) -> tf.Tensor:
    image = tf.io.decode_image(data, channels=channels, dtype=tf.float32,
                               expand_animations=False)
    image = tf.image.resize(image, [image_size, image_size])
    return tf.clip_by_value(image, 0.0, 1.0)

  return tf.map_fn(decode_one, image_bytes, fn_output_signature=tf.TensorSpec(
      [image_size, image_size, channels], tf.float32))


class SortedVocabulary(analyzer_impls.PTransformAnalyzer):
  """A full-pass analyzer: the distinct values, sorted, written as a vocabulary file.

  TFT's own vocabularies are ordered by frequency, so a class's id would change with the class
  frequencies of each run. Sorted by name (like Keras' image_dataset_from_directory), index i
  means the same class in every model version that has the same classes.
  """

  def __init__(self, filename: str):
    super().__init__()
    self._filename = filename

  def _write(self, values: Iterable[bytes]) -> bytes:
    folder = os.path.join(self.base_temp_dir, uuid.uuid4().hex)
    tf.io.gfile.makedirs(folder)
    path = os.path.join(folder, self._filename)  # the asset keeps this base name
    with tf.io.gfile.GFile(path, "wb") as f:
      f.write(b"".join(value + b"\n" for value in sorted(values)))
    return path.encode()

  def expand(self, batches):
    return (batches
            | "Distinct" >> beam.FlatMap(lambda batch: np.unique(batch[0]).tolist())
            | "Deduplicate" >> beam.Distinct()
            | "ToList" >> beam.combiners.ToList()
            | "Write" >> beam.Map(self._write))


def sorted_vocabulary(values: tf.Tensor, name: str) -> tf.Tensor:
  """The path of a vocabulary of `values` sorted by value (an asset of the transform graph)."""
  (path,) = tft.experimental.ptransform_analyzer(
      [values], SortedVocabulary(name), output_dtypes=[tf.string], output_shapes=[[]],
      # A table is built on the path while the graph is traced: it needs a non-empty file.
      output_asset_default_values=[b"placeholder"], name=name)
  return path


def preprocessing_fn(inputs: Dict[str, tf.Tensor], custom_config: Dict[str, Any]):
  """Called by Transform on batches of raw features ([batch, 1] dense tensors)."""
  images = decode_images(tf.reshape(inputs[IMAGE_KEY], [-1]),
                         int(custom_config["image_size"]), int(custom_config["channels"]))
  labels = tf.reshape(inputs[LABEL_KEY], [-1])
  label_ids = tft.apply_vocabulary(
      labels, deferred_vocab_filename_tensor=sorted_vocabulary(labels, LABEL_VOCAB))
  # Class frequencies for the Trainer's class weights.
  tft.vocabulary(labels, vocab_filename=LABEL_COUNTS, store_frequency=True)
  return {IMAGE_XF: images, LABEL_XF: label_ids}
