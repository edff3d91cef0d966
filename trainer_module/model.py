"""Keras 3 model builders. Inputs: {IMAGE_XF: float32 [size, size, channels] in [0, 1]}."""

from typing import Optional

import keras

from trainer_module.constants import IMAGE_XF


def _image_input(image_size: int, channels: int) -> keras.KerasTensor:
  return keras.Input(shape=(image_size, image_size, channels), name=IMAGE_XF)


def _compile(model: keras.Model, learning_rate: float) -> keras.Model:
  model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                loss="sparse_categorical_crossentropy",
                metrics=["sparse_categorical_accuracy"])
  return model


def build_cnn(image_size: int, channels: int, num_classes: int, learning_rate: float = 1e-3,
              dropout: float = 0.3) -> keras.Model:
  """A small three-block CNN: a strong baseline for small images on a CPU."""
  image = _image_input(image_size, channels)
  x = image
  for filters in (32, 64, 128):
    x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    # Momentum 0.9: the moving statistics settle within a few hundred steps on small data sets.
    x = keras.layers.BatchNormalization(momentum=0.9)(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.MaxPooling2D()(x) if filters < 128 else x
  x = keras.layers.GlobalAveragePooling2D()(x)
  x = keras.layers.Dropout(dropout)(x)
  probabilities = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
  return _compile(keras.Model({IMAGE_XF: image}, probabilities, name="cnn"), learning_rate)


def build_efficientnet(image_size: int, channels: int, num_classes: int,
                       learning_rate: float = 1e-3, weights: Optional[str] = None,
                       dropout: float = 0.2) -> keras.Model:
  """EfficientNetB0 with a new classification head.

  `weights` is a local ImageNet "notop" weights file; then the backbone is frozen and only the
  head trains. Without it the whole network trains from scratch (nothing is downloaded).
  """
  image = _image_input(image_size, channels)
  x = image if channels == 3 else keras.layers.Concatenate()([image] * 3)
  x = keras.layers.Rescaling(255.0)(x)  # EfficientNet normalizes 0..255 inputs itself.
  backbone = keras.applications.EfficientNetB0(
      include_top=False, weights=weights, input_shape=(image_size, image_size, 3),
      pooling="avg")
  backbone.trainable = weights is None
  # A frozen backbone keeps its BatchNorm statistics in inference mode.
  x = backbone(x, training=False) if weights else backbone(x)
  x = keras.layers.Dropout(dropout)(x)
  probabilities = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
  return _compile(keras.Model({IMAGE_XF: image}, probabilities, name="efficientnet"),
                  learning_rate)


def build_model(name: str, image_size: int, channels: int, num_classes: int,
                learning_rate: float = 1e-3, weights: Optional[str] = None) -> keras.Model:
  if name == "cnn":
    return build_cnn(image_size, channels, num_classes, learning_rate)
  if name == "efficientnet":
    return build_efficientnet(image_size, channels, num_classes, learning_rate, weights)
  raise ValueError(f"unknown model {name!r}")
