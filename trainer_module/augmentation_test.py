"""Augmentation on real digit images: random in training, identity otherwise."""

import numpy as np
import pytest
import tensorflow as tf

from tests import images
from trainer_module import augmentation


def _digits(count=16, size=32):
  """float32 pixels (0-255), as the Trainer's input path makes them."""
  pixels = np.stack([p for p, _ in images.digit_pixels(count)]).astype(np.float32)
  return tf.image.resize(pixels, [size, size])


@pytest.mark.parametrize("name", sorted(augmentation.LAYERS))
def test_each_augmentation_changes_training_images_within_range(name):
  batch = _digits()
  augmenter = augmentation.build_augmenter([name])
  augmented = augmenter(batch, training=True).numpy()
  assert augmented.shape == batch.shape
  assert augmented.min() >= -1e-3 and augmented.max() <= 255.0 + 1e-3
  assert augmented.max() > 150  # the strokes stay bright: the layers know the pixel range
  assert not np.allclose(augmented, batch.numpy())
  # Outside training (evaluation, serving) the images pass through untouched.
  np.testing.assert_array_equal(augmenter(batch, training=False).numpy(), batch.numpy())


def test_no_names_means_no_augmenter_and_unknown_names_are_errors():
  assert augmentation.build_augmenter([]) is None
  with pytest.raises(ValueError, match="unknown augmentation cutout"):
    augmentation.build_augmenter(["flip", "cutout"])
