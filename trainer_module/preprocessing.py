"""Transform's preprocessing_fn: decode once, fix channels, resize; class name -> id.

Transformed images are stored compact: uint8 pixels, `[size, size, channels]`, serialized as
one TensorProto string per image (height x width x channels bytes and a small header). The
Trainer's input path and the served signatures turn them into float32 pixel values (0-255)
on the fly; normalization is the model's first layer, with per-channel constants that a
full-pass analyzer computes here over the training split (the `image_stats` asset).
"""

import json
import os
import uuid
from typing import Any, Dict, Iterable, List

import apache_beam as beam
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tensorflow_transform.beam.experimental import analyzer_impls

from schemas.features import (
  IMAGE_KEY,
  IMAGE_STATS,
  IMAGE_XF,
  LABEL_COUNTS,
  LABEL_KEY,
  LABEL_VOCAB,
  LABEL_XF,
)
from schemas.settings import RESIZE_MODES


def resize(image: tf.Tensor, size: int, mode: str) -> tf.Tensor:
  """One [height, width, channels] image -> float32 [size, size, channels], values kept.

  squash: stretched to the square; crop: the centred square of the shorter side, then scaled
  (Keras' crop_to_aspect_ratio); pad: scaled to fit, then padded with zeros to the square
  (Keras' pad_to_aspect_ratio).
  """
  if mode == "squash":
    return tf.image.resize(image, [size, size])
  if mode == "crop":
    shape = tf.shape(image)
    side = tf.minimum(shape[0], shape[1])
    image = tf.image.crop_to_bounding_box(
      image, (shape[0] - side) // 2, (shape[1] - side) // 2, side, side
    )
    return tf.image.resize(image, [size, size])
  if mode == "pad":
    return tf.image.resize_with_pad(image, size, size)
  raise ValueError(f"resize mode must be one of {', '.join(RESIZE_MODES)}, got {mode!r}")


def _decode(data: tf.Tensor, channels: int) -> tf.Tensor:
  """One encoded image -> float32 [height, width, channels] of 8-bit values."""

  def decode(to_channels: int) -> tf.Tensor:
    return tf.cast(
      tf.io.decode_image(data, channels=to_channels, dtype=tf.uint8, expand_animations=False),
      tf.float32,
    )

  if channels != 1:
    return decode(channels)
  # TF's WebP decoder gives 3 or 4 channels only: grey it from RGB.
  is_webp = tf.equal(tf.strings.substr(data, 8, 4), b"WEBP")
  return tf.cond(is_webp, lambda: tf.round(tf.image.rgb_to_grayscale(decode(3))), lambda: decode(1))


def decode_images(
  image_bytes: tf.Tensor, image_size: int, channels: int, resize_mode: str = "squash"
) -> tf.Tensor:
  """[batch] encoded images (PNG, JPEG, GIF, BMP, WebP) -> uint8 [batch, size, size, channels].

  Any bit depth is brought to 8 bits by the decoder; grayscale and colour inputs are
  converted to `channels`; resized values are rounded to the nearest integer.
  """

  def decode_one(data: tf.Tensor) -> tf.Tensor:
    resized = resize(_decode(data, channels), image_size, resize_mode)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0.0, 255.0), tf.uint8)

  return tf.map_fn(
    decode_one,
    image_bytes,
    fn_output_signature=tf.TensorSpec([image_size, image_size, channels], tf.uint8),
  )


def encode_pixels(pixels: tf.Tensor) -> tf.Tensor:
  """uint8 [batch, size, size, channels] -> [batch] strings, as Transform stores them."""
  return tf.map_fn(tf.io.serialize_tensor, pixels, fn_output_signature=tf.string)


def decode_pixels(serialized: tf.Tensor, shape: List[int]) -> tf.Tensor:
  """[batch] strings of encode_pixels -> float32 [batch, size, size, channels] in 0-255."""
  pixels = tf.map_fn(
    lambda s: tf.io.parse_tensor(s, tf.uint8),
    tf.reshape(serialized, [-1]),
    fn_output_signature=tf.TensorSpec(shape, tf.uint8),
  )
  return tf.cast(pixels, tf.float32)


class ImageStats(analyzer_impls.PTransformAnalyzer):
  """A full-pass analyzer over the training split: the image shape and the per-channel mean
  and standard deviation of the pixels, written as a JSON asset that the Trainer reads.

  Its inputs are each image's per-channel mean and mean square (every image has the same
  number of pixels, so their means are the split's).
  """

  def __init__(self, filename: str, shape: List[int], resize_mode: str = "squash"):
    super().__init__()
    self._filename, self._shape, self._resize = filename, shape, resize_mode

  def _write(self, sums: np.ndarray) -> bytes:
    count, total, squares = sums[0, 0], sums[1], sums[2]
    mean = total / max(count, 1)
    std = np.sqrt(np.maximum(squares / max(count, 1) - mean * mean, 0.0))
    folder = os.path.join(self.base_temp_dir, uuid.uuid4().hex)
    tf.io.gfile.makedirs(folder)
    path = os.path.join(folder, self._filename)  # the asset keeps this base name
    with tf.io.gfile.GFile(path, "w") as f:
      json.dump(
        {
          "shape": self._shape,
          "resize": self._resize,
          "images": int(count),
          "mean": mean.tolist(),
          "std": std.tolist(),
        },
        f,
      )
    return path.encode()

  def expand(self, batches):
    channels = self._shape[-1]

    def sums(batch) -> np.ndarray:
      means, squares = (np.asarray(b, np.float64) for b in batch)
      return np.stack([np.full(channels, len(means)), means.sum(0), squares.sum(0)])

    return (
      batches
      | "Sum" >> beam.Map(sums)
      | "Total"
      >> beam.CombineGlobally(
        lambda rows: np.sum(list(rows), axis=0) if rows else np.zeros((3, channels))
      )
      | "Write" >> beam.Map(self._write)
    )


def image_stats(
  pixels: tf.Tensor, name: str = IMAGE_STATS, resize_mode: str = "squash"
) -> tf.Tensor:
  """The path of the ImageStats asset of uint8 [batch, size, size, channels] pixels (which
  records `resize_mode` too: the served model's input contract)."""
  values = tf.cast(pixels, tf.float32)
  (path,) = tft.experimental.ptransform_analyzer(
    [tf.reduce_mean(values, axis=[1, 2]), tf.reduce_mean(tf.square(values), axis=[1, 2])],
    ImageStats(name, pixels.shape[1:].as_list(), resize_mode),
    output_dtypes=[tf.string],
    output_shapes=[[]],
    output_asset_default_values=[b"{}"],
    name=name,
  )
  return path


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
    return (
      batches
      | "Distinct" >> beam.FlatMap(lambda batch: np.unique(batch[0]).tolist())
      | "Deduplicate" >> beam.Distinct()
      | "ToList" >> beam.combiners.ToList()
      | "Write" >> beam.Map(self._write)
    )


def sorted_vocabulary(values: tf.Tensor, name: str) -> tf.Tensor:
  """The path of a vocabulary of `values` sorted by value (an asset of the transform graph)."""
  (path,) = tft.experimental.ptransform_analyzer(
    [values],
    SortedVocabulary(name),
    output_dtypes=[tf.string],
    output_shapes=[[]],
    # A table is built on the path while the graph is traced: it needs a non-empty file.
    output_asset_default_values=[b"placeholder"],
    name=name,
  )
  return path


def preprocessing_fn(inputs: Dict[str, tf.Tensor], custom_config: Dict[str, Any]):
  """Called by Transform on batches of raw features ([batch, 1] dense tensors)."""
  resize_mode = custom_config.get("resize", "squash")
  pixels = decode_images(
    tf.reshape(inputs[IMAGE_KEY], [-1]),
    int(custom_config["image_size"]),
    int(custom_config["channels"]),
    resize_mode,
  )
  image_stats(pixels, resize_mode=resize_mode)
  labels = tf.reshape(inputs[LABEL_KEY], [-1])
  label_ids = tft.apply_vocabulary(
    labels, deferred_vocab_filename_tensor=sorted_vocabulary(labels, LABEL_VOCAB)
  )
  # Class frequencies for the Trainer's class weights.
  tft.vocabulary(labels, vocab_filename=LABEL_COUNTS, store_frequency=True)
  return {IMAGE_XF: encode_pixels(pixels), LABEL_XF: label_ids}


def read_image_stats(tf_transform_output: tft.TFTransformOutput) -> Dict[str, Any]:
  """{"shape": [size, size, channels], "resize", "images", "mean": [per channel], "std": [...]}
  ("resize" is "squash" for graphs written before it was recorded)."""
  with tf.io.gfile.GFile(tf_transform_output.vocabulary_file_by_name(IMAGE_STATS)) as f:
    return {"resize": "squash", **json.load(f)}
