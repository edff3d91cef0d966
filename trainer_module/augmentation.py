"""Training-time augmentation, applied in the Trainer's input path only (datasets.py).

Never part of the exported model: evaluation and serving see the images as Transform made them.
Two kinds, all Keras 3's own layers on float32 pixels (0-255): pixel layers, applied to each
training batch in the order named, and mixers (MixUp, CutMix), which blend pairs of images and
their one-hot labels after them; with both mixers named, each batch gets one of the two at
random, as timm does.
"""

from typing import Callable, Dict, Optional, Sequence, Tuple

import keras
import tensorflow as tf

# Name -> layer on float32 pixels (0-255). Magnitudes are mild, safe for most photo classes;
# RandAugment takes Keras' defaults (2 operations a image at half strength); erasing blanks a
# patch of 2-25 % of the image with noise in up to half the images.
LAYERS: Dict[str, Callable[[int], keras.layers.Layer]] = {
  "flip": lambda seed: keras.layers.RandomFlip("horizontal", seed=seed),
  "rotation": lambda seed: keras.layers.RandomRotation(0.05, fill_mode="constant", seed=seed),
  "zoom": lambda seed: keras.layers.RandomZoom(0.1, fill_mode="constant", seed=seed),
  "contrast": lambda seed: keras.layers.RandomContrast(0.2, value_range=(0.0, 255.0), seed=seed),
  "brightness": lambda seed: keras.layers.RandomBrightness(
    0.1, value_range=(0.0, 255.0), seed=seed
  ),
  "randaugment": lambda seed: keras.layers.RandAugment(value_range=(0.0, 255.0), seed=seed),
  "erasing": lambda seed: keras.layers.RandomErasing(
    factor=0.5, scale=(0.02, 0.25), value_range=(0.0, 255.0), seed=seed
  ),
}
# Name -> layer on {"images", "labels"}: one-hot labels in, blended labels out.
MIXERS: Dict[str, Callable[[int], keras.layers.Layer]] = {
  "mixup": lambda seed: keras.layers.MixUp(alpha=0.2, seed=seed),
  "cutmix": lambda seed: keras.layers.CutMix(factor=1.0, seed=seed),
}
NAMES = (*LAYERS, *MIXERS)  # every --augment name


class Augmenter:
  """The named augmentations: (float32 images, labels) batch -> augmented batch; labels must
  be one-hot when a mixer is named. Outside training, the batch as it is."""

  def __init__(self, names: Sequence[str], seed: int = 0):
    unknown = sorted(set(names) - set(NAMES))
    if unknown:
      raise ValueError(f"unknown augmentation {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    layers = [LAYERS[name](seed + i) for i, name in enumerate(names) if name in LAYERS]
    self.pixels = keras.Sequential(layers, name="augmentation") if layers else None
    self.mixers = [MIXERS[name](seed + i) for i, name in enumerate(names) if name in MIXERS]
    self.seed = seed

  def __call__(self, images, labels, training: bool = True) -> Tuple[tf.Tensor, tf.Tensor]:
    if not training:
      return images, labels
    if self.pixels is not None:
      images = self.pixels(images, training=True)
    if not self.mixers:
      return images, labels

    def mix(mixer):
      mixed = mixer({"images": images, "labels": labels}, training=True)
      return mixed["images"], tf.cast(mixed["labels"], labels.dtype)

    if len(self.mixers) == 1:
      return mix(self.mixers[0])
    first, second = self.mixers
    return tf.cond(
      tf.random.uniform([], seed=self.seed) < 0.5, lambda: mix(first), lambda: mix(second)
    )


def build_augmenter(names: Sequence[str], seed: int = 0) -> Optional[Augmenter]:
  """The named augmentations, or None when `names` is empty."""
  return Augmenter(names, seed) if names else None
