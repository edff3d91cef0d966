"""Transform's preprocessing_fn: decode, fix channels, resize, scale; class name -> id."""

from typing import Any, Dict

import tensorflow as tf
import tensorflow_transform as tft

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


def preprocessing_fn(inputs: Dict[str, tf.Tensor], custom_config: Dict[str, Any]):
  """Called by Transform on batches of raw features ([batch, 1] dense tensors)."""
  images = decode_images(tf.reshape(inputs[IMAGE_KEY], [-1]),
                         int(custom_config["image_size"]), int(custom_config["channels"]))
  labels = tf.reshape(inputs[LABEL_KEY], [-1])
  label_ids = tft.compute_and_apply_vocabulary(labels, vocab_filename=LABEL_VOCAB)
  # Class frequencies for the Trainer's class weights.
  tft.vocabulary(labels, vocab_filename=LABEL_COUNTS, store_frequency=True)
  return {IMAGE_XF: images, LABEL_XF: label_ids}
