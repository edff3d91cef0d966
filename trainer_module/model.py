"""Keras 3 model builders. Inputs: {IMAGE_XF: float32 [size, size, channels], pixels 0-255}.

Normalization is the models' own first layer: the CNN standardizes each channel with the
training split's mean and standard deviation (Transform's image_stats), EfficientNet and
MobileNetV3 with their built-in ImageNet preprocessing, MobileNetV2 with a rescaling to [-1, 1]
(Keras' `mobilenet_v2.preprocess_input`). Builders return uncompiled models; `compile_model`
compiles them (again, when fine-tuning). `BUILDERS` names every model.
"""

import os
import tempfile
from typing import Callable, Dict, Optional, Sequence

import keras
import tensorflow as tf

# ImageNet weights' addresses and hashes, and Keras' cache folder (no public API names them).
from keras.src.applications import efficientnet, mobilenet_v2, mobilenet_v3
from keras.src.backend import config as keras_config

from schemas.features import ACCURACY, IMAGE_XF
from schemas.settings import IMAGENET_WEIGHTS, MIN_PRETRAINED_SIZE, MODEL_VARIANTS, NO_WEIGHTS

EFFICIENTNETS = {
  "b0": keras.applications.EfficientNetB0,
  "b1": keras.applications.EfficientNetB1,
  "b2": keras.applications.EfficientNetB2,
  "b3": keras.applications.EfficientNetB3,
}
MOBILENETS = {
  "v2": keras.applications.MobileNetV2,
  "v3small": keras.applications.MobileNetV3Small,
  "v3large": keras.applications.MobileNetV3Large,
}
BACKBONE = "backbone"
MOBILENET_V2_SIZES = (96, 128, 160, 192, 224)  # ImageNet weights exist for these sizes only


class WeightsUnavailable(RuntimeError):
  """ImageNet weights could not be fetched (e.g. no network)."""


def default_variant(model: str) -> Optional[str]:
  """The variant a pretrained family builds when none is named (None for the CNN)."""
  return MODEL_VARIANTS[model][0] if model in MODEL_VARIANTS else None


def _weights_file(model: str, variant: str, image_size: int):
  """(file name, address, MD5 or None) of Keras' ImageNet "notop" weights, as Keras' own
  builders name them (MobileNetV2 keeps one file per input size, 224 for other sizes)."""
  if model == "efficientnet":
    name = f"efficientnet{variant}_notop.h5"
    return name, efficientnet.BASE_WEIGHTS_PATH + name, efficientnet.WEIGHTS_HASHES[variant][1]
  if variant == "v2":
    rows = image_size if image_size in MOBILENET_V2_SIZES else 224
    name = f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{rows}_no_top.h5"
    return name, mobilenet_v2.BASE_WEIGHT_PATH + name, None  # Keras has no hash for these
  key = f"{variant[2:]}_224_1.0_float"
  name = f"weights_mobilenet_v3_{key}_no_top_v2.h5"
  return name, mobilenet_v3.BASE_WEIGHT_PATH + name, mobilenet_v3.WEIGHTS_HASHES[key][1]


def _keras_home() -> str:
  """Keras' cache folder: $KERAS_HOME (read now, not only when Keras was imported), else
  ~/.keras (/tmp/.keras when home is not writable)."""
  return os.path.expanduser(os.environ.get("KERAS_HOME") or keras_config.keras_home())


def keras_models_dir() -> str:
  """Where Keras keeps the weights files it fetches: ~/.keras/models."""
  return os.path.join(_keras_home(), "models")


def imagenet_weights(variant: str, model: str = "efficientnet", image_size: int = 224) -> str:
  """The local path of Keras' ImageNet "notop" weights for `model` `variant`: the copy in
  keras_models_dir() when there is one (no network needed), else fetched there once;
  WeightsUnavailable when that fails, naming the file, where to put it and --weights none."""
  file_name, url, file_hash = _weights_file(model, variant, image_size)
  try:
    return keras.utils.get_file(
      file_name, url, cache_dir=_keras_home(), cache_subdir="models", file_hash=file_hash
    )
  except Exception as e:  # noqa: BLE001  (re-raised as WeightsUnavailable, naming the file)
    raise WeightsUnavailable(
      f"--weights imagenet (the default for --model {model}): could not download {url} "
      f"({str(e).split(' -- ')[-1].splitlines()[0]}); without a network, fetch {file_name} "
      f"elsewhere and put it in {os.path.join(keras_models_dir(), file_name)} or pass "
      f"--weights /path/to/{file_name}, or train from scratch with --weights {NO_WEIGHTS}"
    ) from e


def _local_weights(weights: Optional[str], model: str, variant: str, image_size: int):
  """A local file for `weights`: Keras' ImageNet file (fetched once), a gs:// file copied here
  (Keras loads weights from local files only), a local path, or None (also for "none")."""
  if weights in (None, NO_WEIGHTS):
    return None
  if weights == IMAGENET_WEIGHTS:
    return imagenet_weights(variant, model, image_size)
  if weights and "://" in weights:
    local = os.path.join(tempfile.mkdtemp(prefix="weights-"), os.path.basename(weights))
    tf.io.gfile.copy(weights, local)
    return local
  return weights


def _pretrained(
  family: str,
  variant: str,
  image_size: int,
  channels: int,
  num_classes: int,
  weights: Optional[str],
  dropout: float,
  preprocess: Optional[keras.layers.Layer] = None,
  **backbone_args,
) -> keras.Model:
  """A Keras application's backbone (`family`'s `variant`, average-pooled) under a new head.

  With `weights` (see `_local_weights`) the backbone is frozen (see `unfreeze_top` for the
  fine-tuning phase); without, the whole network trains from scratch. Grayscale input is
  repeated to the three channels the backbone expects, then `preprocess` (when the backbone
  does not preprocess 0-255 pixels itself).
  """
  builders = BACKBONES[family]
  if variant not in builders:
    raise ValueError(f"unknown {family} variant {variant!r}; one of {', '.join(builders)}")
  if image_size < MIN_PRETRAINED_SIZE:
    raise ValueError(
      f"{family} needs images of {MIN_PRETRAINED_SIZE} pixels or more, got {image_size}"
    )
  weights = _local_weights(weights, family, variant, image_size)
  image = _image_input(image_size, channels)
  x = image if channels == 3 else keras.layers.Concatenate()([image] * 3)
  x = preprocess(x) if preprocess is not None else x
  backbone = builders[variant](
    include_top=False,
    weights=weights,
    input_shape=(image_size, image_size, 3),
    pooling="avg",
    name=BACKBONE,
    **backbone_args,
  )
  backbone.trainable = weights is None
  # Pretrained BatchNorm statistics stay in inference mode, also while fine-tuning.
  x = backbone(x, training=False) if weights else backbone(x)
  return keras.Model({IMAGE_XF: image}, _head(x, num_classes, dropout), name=f"{family}{variant}")


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


def compile_model(
  model: keras.Model,
  learning_rate: float,
  label_smoothing: float = 0.0,
  one_hot: bool = False,
  ema: bool = False,
) -> keras.Model:
  """Adam (keeping a moving average of the weights with `ema`) on cross-entropy, with XLA
  only on accelerators: sparse on class ids, or categorical on `one_hot` labels (label
  smoothing, MixUp, CutMix). The accuracy keeps its name (schemas' ACCURACY) either way: the
  training log and the Evaluator read it."""
  if one_hot:
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)
    accuracy = keras.metrics.CategoricalAccuracy(name=ACCURACY)
  elif label_smoothing:
    raise ValueError("label smoothing needs one-hot labels")
  else:
    loss, accuracy = "sparse_categorical_crossentropy", ACCURACY
  model.compile(
    optimizer=keras.optimizers.Adam(learning_rate, use_ema=ema),
    loss=loss,
    metrics=[accuracy],
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
  """EfficientNet B0-B3 with a new classification head; `weights`: a local, gs:// or
  ImageNet ("imagenet": Keras' own, fetched once) "notop" weights file, or None (from
  scratch). EfficientNet rescales and normalizes 0-255 pixels itself (ImageNet's constants)."""
  return _pretrained("efficientnet", variant, image_size, channels, num_classes, weights, dropout)


def build_mobilenet(
  image_size: int,
  channels: int,
  num_classes: int,
  variant: str = "v2",
  weights: Optional[str] = None,
  dropout: float = 0.2,
) -> keras.Model:
  """MobileNet V2, V3 small or V3 large (width 1.0) with a new classification head; `weights`
  as build_efficientnet's. V3 rescales 0-255 pixels itself (include_preprocessing); V2's
  rescaling to [-1, 1] is the model's first layer here, so both take the same pixels."""
  if variant in MOBILENETS and variant.startswith("v3"):
    return _pretrained(
      "mobilenet",
      variant,
      image_size,
      channels,
      num_classes,
      weights,
      dropout,
      include_preprocessing=True,
    )
  rescale = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="rescale")  # to [-1, 1]
  return _pretrained(
    "mobilenet", variant, image_size, channels, num_classes, weights, dropout, rescale
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


def _cnn(image_size, channels, num_classes, variant, weights, width, dropout, mean, std):
  del variant, weights  # the CNN has neither
  return build_cnn(image_size, channels, num_classes, width, dropout, mean, std)


def _family(builder):
  def build(image_size, channels, num_classes, variant, weights, width, dropout, mean, std):
    del width, mean, std  # the pretrained families normalize with their own constants
    return builder(image_size, channels, num_classes, variant, weights, dropout)

  return build


BACKBONES = {"efficientnet": EFFICIENTNETS, "mobilenet": MOBILENETS}
# Every model by its --model name: (image_size, channels, num_classes, variant, weights, width,
# dropout, mean, std) -> an uncompiled model.
BUILDERS: Dict[str, Callable[..., keras.Model]] = {
  "cnn": _cnn,
  "efficientnet": _family(build_efficientnet),
  "mobilenet": _family(build_mobilenet),
}


def build_model(
  name: str,
  image_size: int,
  channels: int,
  num_classes: int,
  variant: Optional[str] = None,
  weights: Optional[str] = None,
  width: int = 32,
  dropout: float = 0.3,
  mean: Optional[Sequence[float]] = None,
  std: Optional[Sequence[float]] = None,
) -> keras.Model:
  """The configured model, uncompiled (`variant`: the family's default when None). `width`,
  `mean` and `std` shape the CNN only."""
  if name not in BUILDERS:
    raise ValueError(f"unknown model {name!r}; one of {', '.join(BUILDERS)}")
  return BUILDERS[name](
    image_size,
    channels,
    num_classes,
    variant or default_variant(name),
    weights,
    width,
    dropout,
    mean,
    std,
  )
