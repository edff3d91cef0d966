"""Augmentation on real digit images: random in training, identity otherwise; MixUp and CutMix
blend images and their one-hot labels alike."""

import numpy as np
import pytest
import tensorflow as tf

from tests import images
from trainer_module import augmentation


def _digits(count=16, size=32, channels=1):
  """float32 pixels (0-255), as the Trainer's input path makes them, and one-hot labels."""
  pairs = images.digit_pixels(count)
  pixels = np.stack([p for p, _ in pairs]).astype(np.float32)
  pixels = tf.image.resize(np.repeat(pixels, channels, axis=-1), [size, size])
  return pixels, tf.one_hot([d for _, d in pairs], 10)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", sorted(augmentation.LAYERS))
def test_each_pixel_augmentation_changes_training_images_within_range(name, channels):
  batch, labels = _digits(channels=channels)
  augmenter = augmentation.build_augmenter([name])
  augmented, same_labels = augmenter(batch, labels)
  augmented = augmented.numpy()
  assert augmented.shape == batch.shape
  assert augmented.min() >= -1e-3 and augmented.max() <= 255.0 + 1e-3
  assert augmented.max() > 150  # the strokes stay bright: the layers know the pixel range
  assert not np.allclose(augmented, batch.numpy())
  np.testing.assert_array_equal(same_labels, labels)  # a pixel layer leaves the labels
  # Outside training (evaluation, serving) the images pass through untouched.
  untouched, _ = augmenter(batch, labels, training=False)
  np.testing.assert_array_equal(untouched.numpy(), batch.numpy())


@pytest.mark.parametrize("name", sorted(augmentation.MIXERS))
def test_mixers_blend_images_and_their_labels_alike(name):
  batch, labels = _digits(count=32)
  mixed, blended = augmentation.build_augmenter([name], seed=1)(batch, labels)
  mixed, blended = mixed.numpy(), blended.numpy()
  assert mixed.shape == batch.shape and blended.shape == labels.shape
  np.testing.assert_allclose(blended.sum(axis=1), 1.0, atol=1e-5)  # still a distribution
  assert (blended.max(axis=1) < 0.999).any()  # some labels are blends of two classes
  assert not np.allclose(mixed, batch.numpy())
  assert mixed.min() >= -1e-3 and mixed.max() <= 255.0 + 1e-3
  # A blend names at most two classes, the image's own among them.
  own = labels.numpy().argmax(axis=1)
  assert ((blended > 1e-6).sum(axis=1) <= 2).all()
  assert (blended[np.arange(len(own)), own] > 0).all()


def test_with_both_mixers_each_batch_gets_one_of_them():
  batch, labels = _digits(count=32)
  augmenter = augmentation.build_augmenter(["flip", "mixup", "cutmix"], seed=2)
  assert [type(m).__name__ for m in augmenter.mixers] == ["MixUp", "CutMix"]
  assert [type(layer).__name__ for layer in augmenter.pixels.layers] == ["RandomFlip"]
  for _ in range(3):
    _, blended = augmenter(batch, labels)
    np.testing.assert_allclose(blended.numpy().sum(axis=1), 1.0, atol=1e-5)


def test_no_names_means_no_augmenter_and_unknown_names_are_errors():
  assert augmentation.build_augmenter([]) is None
  with pytest.raises(ValueError, match="unknown augmentation cutout"):
    augmentation.build_augmenter(["flip", "cutout"])
