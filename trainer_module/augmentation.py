"""Training-time augmentation, applied in the Trainer's input path only.

Never part of the exported model: evaluation and serving see the images as Transform made them.
"""

from typing import Callable, Dict, Optional, Sequence

import keras

# Name -> layer on float32 pixels (0-255). Magnitudes are mild, safe for most photo classes.
LAYERS: Dict[str, Callable[[int], keras.layers.Layer]] = {
  "flip": lambda seed: keras.layers.RandomFlip("horizontal", seed=seed),
  "rotation": lambda seed: keras.layers.RandomRotation(0.05, fill_mode="constant", seed=seed),
  "zoom": lambda seed: keras.layers.RandomZoom(0.1, fill_mode="constant", seed=seed),
  "contrast": lambda seed: keras.layers.RandomContrast(0.2, value_range=(0.0, 255.0), seed=seed),
  "brightness": lambda seed: keras.layers.RandomBrightness(
    0.1, value_range=(0.0, 255.0), seed=seed
  ),
}


def build_augmenter(names: Sequence[str], seed: int = 0) -> Optional[keras.Sequential]:
  """A pipeline of the named augmentations, or None when `names` is empty."""
  unknown = sorted(set(names) - set(LAYERS))
  if unknown:
    raise ValueError(f"unknown augmentation {', '.join(unknown)}; choose from {', '.join(LAYERS)}")
  if not names:
    return None
  return keras.Sequential(
    [LAYERS[name](seed + i) for i, name in enumerate(names)], name="augmentation"
  )
