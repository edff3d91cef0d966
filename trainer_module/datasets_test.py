"""The Trainer's input: Transform's records as shuffled (train) or ordered (eval) batches."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

from schemas.features import IMAGE_XF
from tests import training
from tests.training import BASE_CONFIG
from trainer_module import augmentation, datasets


@pytest.mark.integration  # Transform's output
def test_training_input_is_reshuffled_every_epoch_and_eval_keeps_its_order(digits_transformed):
  fn_args = training.fn_args(*digits_transformed, BASE_CONFIG)
  output = tft.TFTransformOutput(fn_args.transform_graph_path)

  def epochs(dataset):
    return [np.concatenate([labels.numpy() for _, labels in dataset]) for _ in range(2)]

  first, second = epochs(
    datasets.input_fn(fn_args.train_files, fn_args.data_accessor, output, 16, training=True)
  )
  assert sorted(first) == sorted(second) and list(first) != list(second)
  first, second = epochs(
    datasets.input_fn(fn_args.eval_files, fn_args.data_accessor, output, 16, training=False)
  )
  assert list(first) == list(second)
  features, _ = next(
    iter(datasets.input_fn(fn_args.eval_files, fn_args.data_accessor, output, 16, training=False))
  )
  assert features[IMAGE_XF].shape == (16, 32, 32, 1)
  assert features[IMAGE_XF].dtype == tf.float32  # uint8 on disk, float32 pixels on the fly
  assert 200 < float(tf.reduce_max(features[IMAGE_XF])) <= 255.0


def test_shuffle_buffer_holds_a_whole_small_image_set_and_is_bounded_for_large_images():
  assert datasets.shuffle_buffer([28, 28, 1], 64) >= 70_000  # Fashion-MNIST: a full shuffle
  large = datasets.shuffle_buffer([224, 224, 3], 64)
  assert 64 <= large and large * 224 * 224 * 3 <= datasets.SHUFFLE_BYTES  # uint8 pixels
  assert datasets.shuffle_buffer([1024, 1024, 3], 128) == 128  # never less than a batch


@pytest.mark.integration  # Transform's output
def test_one_hot_labels_for_the_categorical_loss_and_mixed_labels_in_training(digits_transformed):
  fn_args = training.fn_args(*digits_transformed, BASE_CONFIG)
  output = tft.TFTransformOutput(fn_args.transform_graph_path)
  ids = np.concatenate(
    [y.numpy().ravel() for _, y in datasets.input_fn(
      fn_args.eval_files, fn_args.data_accessor, output, 16, training=False)]
  )  # fmt: skip
  one_hot = np.concatenate(
    [y.numpy() for _, y in datasets.input_fn(
      fn_args.eval_files, fn_args.data_accessor, output, 16, training=False, num_classes=10)]
  )  # fmt: skip
  np.testing.assert_array_equal(one_hot, np.eye(10)[ids])  # the same labels, one-hot
  mixed = datasets.input_fn(
    fn_args.train_files,
    fn_args.data_accessor,
    output,
    16,
    training=True,
    augmenter=augmentation.build_augmenter(["mixup"]),
    num_classes=10,
  )
  labels = np.concatenate([y.numpy() for _, y in mixed])
  np.testing.assert_allclose(labels.sum(axis=1), 1.0, atol=1e-5)
  assert (labels.max(axis=1) < 0.999).mean() > 0.5  # most training labels are blends
