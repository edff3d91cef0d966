"""Keras 3 model builders. Inputs: {IMAGE_XF: float32 [size, size, channels] in [0, 1]}.

Builders return uncompiled models; `compile_model` compiles them (again, when fine-tuning).
"""

from typing import Optional

import keras
import tensorflow as tf

from trainer_module.constants import IMAGE_XF

EFFICIENTNETS = {
    "b0": keras.applications.EfficientNetB0,
    "b1": keras.applications.EfficientNetB1,
    "b2": keras.applications.EfficientNetB2,
    "b3": keras.applications.EfficientNetB3,
}
BACKBONE = "backbone"


def _image_input(image_size: int, channels: int) -> keras.KerasTensor:
  return keras.Input(shape=(image_size, image_size, channels), name=IMAGE_XF)


def _head(x, num_classes: int, dropout: float):
  x = keras.layers.Dropout(dropout)(x)
  # float32 probabilities even under a mixed_float16 policy.
  return keras.layers.Dense(num_classes, activation="softmax", dtype="float32",
                            name="probabilities")(x)


def use_xla() -> bool:
  """XLA on GPUs and TPUs only: on CPU it made the CNN's training steps ~1.7x slower."""
  return bool(tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"))


def compile_model(model: keras.Model, learning_rate: float) -> keras.Model:
  """Adam on sparse categorical cross-entropy, with XLA only on accelerators."""
  model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                loss="sparse_categorical_crossentropy",
                metrics=["sparse_categorical_accuracy"],
                jit_compile="auto" if use_xla() else False)
  return model


def build_cnn(image_size: int, channels: int, num_classes: int, width: int = 32,
              dropout: float = 0.3) -> keras.Model:
  """Three conv blocks of `width`, 2x and 4x filters, pooled to a 4x4 grid, a dense layer.

  A strong baseline for small images on a CPU; the fixed grid keeps the dense layer the same
  size whatever the image size.
  """
  image = _image_input(image_size, channels)
  x = image
  for i, filters in enumerate((width, 2 * width, 4 * width)):
    x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    # Momentum 0.9: the moving statistics settle within a few hundred steps on small data sets.
    x = keras.layers.BatchNormalization(momentum=0.9)(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.MaxPooling2D()(x) if i < 2 else x
  x = keras.layers.AdaptiveAveragePooling2D((4, 4))(x)
  x = keras.layers.Flatten()(x)
  x = keras.layers.Dropout(dropout)(x)
  x = keras.layers.Dense(4 * width, activation="relu")(x)
  return keras.Model({IMAGE_XF: image}, _head(x, num_classes, dropout), name="cnn")


def build_efficientnet(image_size: int, channels: int, num_classes: int, variant: str = "b0",
                       weights: Optional[str] = None, dropout: float = 0.2) -> keras.Model:
  """EfficientNet B0-B3 with a new classification head.

  `weights` is a local ImageNet "notop" weights file: the backbone is then frozen (see
  `unfreeze_top` for the fine-tuning phase). Without it the whole network trains from scratch;
  nothing is downloaded. Grayscale input is repeated to the three channels the backbone expects.
  """
  if variant not in EFFICIENTNETS:
    raise ValueError(f"unknown EfficientNet variant {variant!r}; one of {', '.join(EFFICIENTNETS)}")
  image = _image_input(image_size, channels)
  x = image if channels == 3 else keras.layers.Concatenate()([image] * 3)
  x = keras.layers.Rescaling(255.0)(x)  # EfficientNet normalizes 0..255 inputs itself.
  backbone = EFFICIENTNETS[variant](include_top=False, weights=weights,
                                    input_shape=(image_size, image_size, 3), pooling="avg",
                                    name=BACKBONE)
  backbone.trainable = weights is None
  # Pretrained BatchNorm statistics stay in inference mode, also while fine-tuning.
  x = backbone(x, training=False) if weights else backbone(x)
  return keras.Model({IMAGE_XF: image}, _head(x, num_classes, dropout),
                     name=f"efficientnet{variant}")


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


def build_model(name: str, image_size: int, channels: int, num_classes: int,
                variant: str = "b0", weights: Optional[str] = None, width: int = 32,
                dropout: float = 0.3) -> keras.Model:
  """The configured model, uncompiled. `width` shapes the CNN only."""
  if name == "cnn":
    return build_cnn(image_size, channels, num_classes, width, dropout)
  if name == "efficientnet":
    return build_efficientnet(image_size, channels, num_classes, variant, weights, dropout)
  raise ValueError(f"unknown model {name!r}")
