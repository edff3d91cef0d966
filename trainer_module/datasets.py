"""The Trainer's input: Transform's output as tf.data datasets of (features, label) batches."""

import math
from typing import Dict, List, Optional, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tfx import v1 as tfx
from tfx_bsl.public import tfxio

from schemas.features import IMAGE_XF, LABEL_VOCAB, LABEL_XF
from trainer_module import augmentation, preprocessing
from trainer_module.config import TrainingConfig

SHUFFLE_BYTES = 256 << 20  # Shuffle buffer memory bound.


def image_shape(tf_transform_output: tft.TFTransformOutput) -> List[int]:
  """[size, size, channels] as Transform produced it: the model follows Transform's output."""
  return preprocessing.read_image_stats(tf_transform_output)["shape"]


def shuffle_buffer(shape: List[int], batch_size: int) -> int:
  """Images the training shuffle holds: as many uint8 images as SHUFFLE_BYTES allows; small
  images (e.g. 70,000 28x28) are shuffled whole."""
  return max(batch_size, SHUFFLE_BYTES // int(np.prod(shape)))


def input_fn(
  file_pattern,
  data_accessor: tfx.components.DataAccessor,
  tf_transform_output: tft.TFTransformOutput,
  batch_size: int,
  training: bool,
  cache: str = "memory",
  augmenter: Optional[augmentation.Augmenter] = None,
  seed: int = 0,
  images: Optional[int] = None,
  num_classes: Optional[int] = None,
) -> tf.data.Dataset:
  """One epoch of (features, label) batches of transformed examples, pixels as float32; the
  label is the class id, or with `num_classes` a one-hot vector (what label smoothing, MixUp
  and CutMix need).

  Records are read and parsed in parallel, then cached as Transform stored them (uint8
  pixels: `cache` is "memory", "none" or a file path prefix), so later epochs skip the
  TFRecord parsing; training data is reshuffled every epoch; pixels become float32 (0-255)
  after the cache, then training batches are augmented, so each epoch sees new variations.
  With `images` (the split's size) Keras knows the number of batches from the first epoch.
  """
  shape = image_shape(tf_transform_output)
  dataset = data_accessor.tf_dataset_factory(
    file_pattern,
    tfxio.TensorFlowDatasetOptions(
      batch_size=batch_size,
      label_key=LABEL_XF,
      num_epochs=1,
      shuffle=training,
      shuffle_seed=seed if training else None,
    ),
    tf_transform_output.transformed_metadata.schema,
  )
  return batches(
    cached(dataset, cache),
    shape,
    batch_size,
    training,
    augmenter,
    seed=seed,
    images=images,
    num_classes=num_classes,
  )


def cached(dataset: tf.data.Dataset, cache: str) -> tf.data.Dataset:
  """The dataset cached as `cache` says: "memory", "none" or a file path prefix."""
  return dataset if cache == "none" else dataset.cache("" if cache == "memory" else cache)


def batches(
  dataset: tf.data.Dataset,
  shape: List[int],
  batch_size: int,
  training: bool,
  augmenter: Optional[augmentation.Augmenter] = None,
  seed: int = 0,
  images: Optional[int] = None,
  num_classes: Optional[int] = None,
) -> tf.data.Dataset:
  """Batches of (features, label) of Transform's batched output as the model takes them:
  training data reshuffled every epoch, then augmented; pixels as float32 (0-255); the label
  the class id, or with `num_classes` a one-hot vector (what label smoothing, MixUp and CutMix
  need). With `images` (how many there are) Keras knows the number of batches from the first
  epoch."""
  if training:
    dataset = (
      dataset.unbatch().shuffle(shuffle_buffer(shape, batch_size), seed=seed).batch(batch_size)
    )

  def to_float(features, label):
    image = preprocessing.decode_pixels(features[IMAGE_XF], shape)
    if num_classes:
      label = tf.one_hot(tf.reshape(label, [-1]), num_classes)
    if augmenter is not None:
      image, label = augmenter(image, label)
    return {**features, IMAGE_XF: image}, label

  dataset = dataset.map(to_float, num_parallel_calls=tf.data.AUTOTUNE)
  if images is not None:
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(math.ceil(images / batch_size)))
  return dataset.with_options(_shard_by_data()).prefetch(tf.data.AUTOTUNE)


def _shard_by_data() -> tf.data.Options:
  """With several workers each reads every file and keeps its share of the batches (DATA):
  a split comes in a few files, and FILE sharding would leave a worker with fewer files than
  others, or none. The shares are disjoint since every worker shuffles with the same seed."""
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
  return options


def count_records(file_patterns: List[str]) -> int:
  """The number of records in GZIP TFRecord files (one pass, nothing parsed)."""
  files = [path for pattern in file_patterns for path in tf.io.gfile.glob(pattern)]
  return int(
    tf.data.TFRecordDataset(files, compression_type="GZIP").reduce(
      np.int64(0), lambda count, _: count + 1
    )
  )


def one_hot_classes(config: TrainingConfig, tf_transform_output) -> Optional[int]:
  """The number of classes when the loss takes one-hot labels (config.one_hot_labels), else
  None: class ids."""
  if not config.one_hot_labels:
    return None
  return tf_transform_output.vocabulary_size_by_name(LABEL_VOCAB)


def train_and_eval(
  fn_args: tfx.components.FnArgs,
  tf_transform_output: tft.TFTransformOutput,
  config: TrainingConfig,
  global_batch: int,
  caches: Dict[str, str],
  images: Dict[str, int],
) -> Tuple[tf.data.Dataset, tf.data.Dataset]:
  """(train, eval) datasets: train shuffled and augmented as configured, eval in its order;
  labels one-hot when the loss needs them (config.one_hot_labels)."""
  seed = config.seed
  augmenter = augmentation.build_augmenter(config.augment, seed)
  num_classes = one_hot_classes(config, tf_transform_output)
  train = input_fn(
    fn_args.train_files,
    fn_args.data_accessor,
    tf_transform_output,
    global_batch,
    training=True,
    augmenter=augmenter,
    seed=seed,
    cache=caches["train"],
    images=images["train"],
    num_classes=num_classes,
  )
  evaluation = input_fn(
    fn_args.eval_files,
    fn_args.data_accessor,
    tf_transform_output,
    global_batch,
    training=False,
    cache=caches["eval"],
    images=images["eval"],
    num_classes=num_classes,
  )
  return train, evaluation
