"""Keras 3 model builders. Inputs: {IMAGE_XF: float32 [size, size, channels], pixels 0-255}.

Normalization is the models' own first layer: the CNN standardizes each channel with the
training split's mean and standard deviation (Transform's image_stats), EfficientNet with its
built-in ImageNet constants. Builders return uncompiled models; `compile_model` compiles them
(again, when fine-tuning).
"""

import os
import tempfile
from typing import Optional, Sequence

import keras
import tensorflow as tf
from keras.src.applications import efficientnet  # ImageNet weights' address and hashes

from trainer_module.constants import IMAGE_XF

EFFICIENTNETS = {
  "b0": keras.applications.EfficientNetB0,
  "b1": keras.applications.EfficientNetB1,
  "b2": keras.applications.EfficientNetB2,
  "b3": keras.applications.EfficientNetB3,
}
BACKBONE = "backbone"
IMAGENET = "imagenet"


class WeightsUnavailable(RuntimeError):
  """ImageNet weights could not be fetched (e.g. no network)."""


def imagenet_weights(variant: str) -> str:
  """The local path of Keras' ImageNet "notop" weights for EfficientNet `variant`, downloaded
  into Keras' cache (~/.keras/models) the first time; WeightsUnavailable when that fails."""
  file_name = f"efficientnet{variant}_notop.h5"
  url = efficientnet.BASE_WEIGHTS_PATH + file_name
  try:
    return keras.utils.get_file(
      file_name, url, cache_subdir="models", file_hash=efficientnet.WEIGHTS_HASHES[variant][1]
    )
  except Exception as e:  # pylint: disable=broad-except
    raise WeightsUnavailable(
      f"--weights imagenet: could not download {url} "
      f"({str(e).split(' -- ')[-1].splitlines()[0]}); "
      f"without a network, fetch {file_name} elsewhere and pass --weights "
      f"/path/to/{file_name}"
    ) from e


def _image_input(image_size: int, channels: int) -> keras.KerasTensor:
  return keras.Input(shape=(image_size, image_size, channels), name=IMAGE_XF)


def _head(x, num_classes: int, dropout: float):
  x = keras.layers.Dropout(dropout)(x)
  # float32 probabilities even under a mixed_float16 policy.
  return keras.layers.Dense(
    num_classes, activation="softmax", dtype="float32", name="probabilities"
  )(x)


def use_xla() -> bool:
  """XLA on GPUs and TPUs only: on CPU it made the CNN's training steps ~1.7x slower."""
  return bool(tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"))


def compile_model(model: keras.Model, learning_rate: float) -> keras.Model:
  """Adam on sparse categorical cross-entropy, with XLA only on accelerators."""
  model.compile(
    optimizer=keras.optimizers.Adam(learning_rate),
    loss="sparse_categorical_crossentropy",
    metrics=["sparse_categorical_accuracy"],
    jit_compile="auto" if use_xla() else False,
  )
  return model


def standardize(
  mean: Optional[Sequence[float]], std: Optional[Sequence[float]], channels: int
) -> keras.layers.Layer:
  """(x - mean) / std per channel, with the training split's constants (default 127.5, 64)."""
  mean = list(mean) if mean is not None else [127.5] * channels
  std = list(std) if std is not None else [64.0] * channels
  return keras.layers.Normalization(mean=mean, variance=[s * s for s in std], name="standardize")


def build_cnn(
  image_size: int,
  channels: int,
  num_classes: int,
  width: int = 32,
  dropout: float = 0.3,
  mean: Optional[Sequence[float]] = None,
  std: Optional[Sequence[float]] = None,
) -> keras.Model:
  """Standardization, three conv blocks of `width`, 2x and 4x filters, pooled to a 4x4 grid,
  a dense layer.

  A strong baseline for small images on a CPU; the fixed grid keeps the dense layer the same
  size whatever the image size.
  """
  image = _image_input(image_size, channels)
  x = standardize(mean, std, channels)(image)
  for i, filters in enumerate((width, 2 * width, 4 * width)):
    x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    # Momentum 0.9: the moving statistics settle within a few hundred steps on small data sets.
    x = keras.layers.BatchNormalization(momentum=0.9)(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.MaxPooling2D()(x) if i < 2 else x
  x = keras.layers.AdaptiveAveragePooling2D((4, 4))(x)
  x = keras.layers.Flatten()(x)
  x = keras.layers.Dense(4 * width, activation="relu")(
    x
  )  # dropout: the head's, before the classifier
  return keras.Model({IMAGE_XF: image}, _head(x, num_classes, dropout), name="cnn")


def build_efficientnet(
  image_size: int,
  channels: int,
  num_classes: int,
  variant: str = "b0",
  weights: Optional[str] = None,
  dropout: float = 0.2,
) -> keras.Model:
  """EfficientNet B0-B3 with a new classification head.

  `weights` is a local ImageNet "notop" weights file, or "imagenet" for Keras' own (fetched
  once): the backbone is then frozen (see `unfreeze_top` for the fine-tuning phase). Without it the whole network trains from scratch;
  nothing is downloaded. Grayscale input is repeated to the three channels the backbone expects.
  """
  if variant not in EFFICIENTNETS:
    raise ValueError(f"unknown EfficientNet variant {variant!r}; one of {', '.join(EFFICIENTNETS)}")
  if weights == IMAGENET:
    weights = imagenet_weights(variant)
  elif weights and "://" in weights:  # e.g. gs://: Keras loads weights from local files only
    local = os.path.join(tempfile.mkdtemp(prefix="weights-"), os.path.basename(weights))
    tf.io.gfile.copy(weights, local)
    weights = local
  image = _image_input(image_size, channels)
  # EfficientNet rescales and normalizes 0-255 inputs itself (ImageNet's constants).
  x = image if channels == 3 else keras.layers.Concatenate()([image] * 3)
  backbone = EFFICIENTNETS[variant](
    include_top=False,
    weights=weights,
    input_shape=(image_size, image_size, 3),
    pooling="avg",
    name=BACKBONE,
  )
  backbone.trainable = weights is None
  # Pretrained BatchNorm statistics stay in inference mode, also while fine-tuning.
  x = backbone(x, training=False) if weights else backbone(x)
  return keras.Model(
    {IMAGE_XF: image}, _head(x, num_classes, dropout), name=f"efficientnet{variant}"
  )


def unfreeze_top(model: keras.Model, layers: int) -> int:
  """Makes the backbone's top `layers` layers trainable, BatchNorm excepted; returns how many."""
  backbone = model.get_layer(BACKBONE)
  backbone.trainable = True
  unfrozen = 0
  for i, layer in enumerate(backbone.layers):
    top = i >= len(backbone.layers) - layers
    layer.trainable = top and not isinstance(layer, keras.layers.BatchNormalization)
    unfrozen += layer.trainable
  return unfrozen


def build_model(
  name: str,
  image_size: int,
  channels: int,
  num_classes: int,
  variant: str = "b0",
  weights: Optional[str] = None,
  width: int = 32,
  dropout: float = 0.3,
  mean: Optional[Sequence[float]] = None,
  std: Optional[Sequence[float]] = None,
) -> keras.Model:
  """The configured model, uncompiled. `width`, `mean` and `std` shape the CNN only."""
  if name == "cnn":
    return build_cnn(image_size, channels, num_classes, width, dropout, mean, std)
  if name == "efficientnet":
    return build_efficientnet(image_size, channels, num_classes, variant, weights, dropout)
  raise ValueError(f"unknown model {name!r}")
