"""Trainer's run_fn and Tuner's tuner_fn: fit on Transform's output, export for TF Serving.

The exported SavedModel has three signatures:
- serving_default (image_bytes: [batch] encoded images -> classes, scores, probabilities,
  class_names): what TF Serving's REST `{"b64": ...}` and gRPC clients send.
- serving_examples (examples: [batch] serialized tf.Examples): what the Evaluator feeds.
- transform_features (examples): the Transform graph alone, used by TFMA to get label ids.
"""

import json
import math
import os
import time
from typing import Any, Callable, Dict, List, Optional

import keras
import keras_tuner
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from absl import logging
from tfx import v1 as tfx
from tfx_bsl.public import tfxio

from trainer_module import (
  augmentation,
  cache,
  class_weights,
  contract,
  distribution,
  labels,
  preprocessing,
  warm_start,
)
from trainer_module.config import TrainingConfig
from trainer_module.constants import (
  ACCURACY,
  IMAGE_KEY,
  IMAGE_XF,
  LABEL_VOCAB,
  LABEL_XF,
  PREDICTION_KEY,
  SERVING_EXAMPLES_SIGNATURE,
  SERVING_INPUT,
  TRAINING_LOG,
  TRAINING_SETTINGS,
  TRANSFORM_SIGNATURE,
)
from trainer_module.model import build_model, compile_model, unfreeze_top

KERAS_MODEL = "model.keras"  # The bare Keras model, in the model run artifact.
SHUFFLE_BYTES = 256 << 20  # Shuffle buffer memory bound.
FINE_TUNE_LR_FACTOR = 0.1


def image_shape(tf_transform_output: tft.TFTransformOutput) -> List[int]:
  """[size, size, channels] as Transform produced it: the model follows Transform's output."""
  return preprocessing.read_image_stats(tf_transform_output)["shape"]


def shuffle_buffer(shape: List[int], batch_size: int) -> int:
  """Images the training shuffle holds: as many uint8 images as SHUFFLE_BYTES allows; small
  images (e.g. 70,000 28x28) are shuffled whole."""
  return max(batch_size, SHUFFLE_BYTES // int(np.prod(shape)))


def input_fn(
  file_pattern,
  data_accessor: tfx.components.DataAccessor,
  tf_transform_output: tft.TFTransformOutput,
  batch_size: int,
  training: bool,
  cache: str = "memory",
  augmenter: Optional[keras.Sequential] = None,
  seed: int = 0,
  images: Optional[int] = None,
) -> tf.data.Dataset:
  """One epoch of (features, label id) batches of transformed examples, pixels as float32.

  Records are read and parsed in parallel, then cached as Transform stored them (uint8
  pixels: `cache` is "memory", "none" or a file path prefix), so later epochs skip the
  TFRecord parsing; training data is reshuffled every epoch; pixels become float32 (0-255)
  after the cache, then training batches are augmented, so each epoch sees new variations.
  With `images` (the split's size) Keras knows the number of batches from the first epoch.
  """
  shape = image_shape(tf_transform_output)
  dataset = data_accessor.tf_dataset_factory(
    file_pattern,
    tfxio.TensorFlowDatasetOptions(
      batch_size=batch_size,
      label_key=LABEL_XF,
      num_epochs=1,
      shuffle=training,
      shuffle_seed=seed if training else None,
    ),
    tf_transform_output.transformed_metadata.schema,
  )
  if cache != "none":
    dataset = dataset.cache("" if cache == "memory" else cache)
  if training:
    dataset = (
      dataset.unbatch().shuffle(shuffle_buffer(shape, batch_size), seed=seed).batch(batch_size)
    )

  def to_float(features, label):
    image = preprocessing.decode_pixels(features[IMAGE_XF], shape)
    if augmenter is not None:
      image = augmenter(image, training=True)
    return {**features, IMAGE_XF: image}, label

  dataset = dataset.map(to_float, num_parallel_calls=tf.data.AUTOTUNE)
  if images is not None:
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(math.ceil(images / batch_size)))
  return dataset.prefetch(tf.data.AUTOTUNE)


def count_records(file_patterns: List[str]) -> int:
  """The number of records in GZIP TFRecord files (one pass, nothing parsed)."""
  files = [path for pattern in file_patterns for path in tf.io.gfile.glob(pattern)]
  return int(
    tf.data.TFRecordDataset(files, compression_type="GZIP").reduce(
      np.int64(0), lambda count, _: count + 1
    )
  )


class EpochLog(keras.callbacks.Callback):
  """Appends each epoch's metrics, learning rate, training seconds and images/s to a JSON-lines
  file, and prints them as one line (with `epochs`, the planned number, if given)."""

  def __init__(self, path: str, train_images: int, phase: str, epochs: Optional[int] = None):
    super().__init__()
    self.path, self.train_images, self.phase, self.epochs = path, train_images, phase, epochs
    self._start = self._train_end = 0.0

  def on_epoch_begin(self, epoch, logs=None):
    self._start = self._train_end = time.perf_counter()

  def on_test_begin(self, logs=None):  # validation starts: the training part of the epoch ended
    self._train_end = time.perf_counter()

  def on_epoch_end(self, epoch, logs=None):
    end = self._train_end if self._train_end > self._start else time.perf_counter()
    seconds = end - self._start
    record = {
      "phase": self.phase,
      "epoch": epoch + 1,
      "train_seconds": round(seconds, 3),
      "images_per_second": round(self.train_images / seconds, 1),
      # The rate the schedule has reached at the end of the epoch.
      "learning_rate": float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)),
      **{k: float(v) for k, v in (logs or {}).items()},
    }
    with tf.io.gfile.GFile(self.path, "a") as f:
      f.write(json.dumps(record) + "\n")
    print(epoch_line(record, self.epochs), flush=True)


def epoch_line(record: Dict[str, Any], epochs: Optional[int] = None) -> str:
  """One console line for an epoch of the training log."""

  def metrics(prefix: str) -> str:
    return ", ".join(
      f"{name} {record[prefix + key]:.4f}"
      for key, name in (("loss", "loss"), (ACCURACY, "accuracy"))
      if prefix + key in record
    )

  phase = "" if record["phase"] == "train" else f" ({record['phase'].replace('_', '-')})"
  validation = metrics("val_")
  return (
    f"[Trainer] epoch {record['epoch']}{f'/{epochs}' if epochs else ''}{phase}: "
    f"{metrics('')}"
    + (f"; validation {validation}" if validation else "")
    + f"; rate {record['learning_rate']:.2g}; {record['train_seconds']:.1f} s, "
    f"{record['images_per_second']:.0f} images/s"
  )


def make_serving_signatures(
  model: keras.Model, tf_transform_output: tft.TFTransformOutput
) -> Dict[str, object]:
  """The exported signatures; all go through the same Transform layer as training did."""
  model.tft_layer = tf_transform_output.transform_features_layer()
  class_names = tf.constant(tf_transform_output.vocabulary_by_name(LABEL_VOCAB))
  raw_spec = tf_transform_output.raw_feature_spec()

  shape = image_shape(tf_transform_output)

  def predict(raw_features):
    transformed = model.tft_layer(raw_features)
    pixels = preprocessing.decode_pixels(transformed[IMAGE_XF], shape)
    probabilities = tf.cast(model({IMAGE_XF: pixels}), tf.float32)
    top = tf.argmax(probabilities, axis=1)
    return {
      "classes": tf.gather(class_names, top),
      "scores": tf.reduce_max(probabilities, axis=1),
      PREDICTION_KEY: probabilities,
      "class_names": tf.tile(class_names[tf.newaxis], [tf.shape(top)[0], 1]),
    }

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=SERVING_INPUT)])
  def serve_image_bytes(image_bytes):
    return predict({IMAGE_KEY: tf.reshape(image_bytes, [-1, 1])})

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
  def serve_examples(serialized):
    return predict(tf.io.parse_example(serialized, {IMAGE_KEY: raw_spec[IMAGE_KEY]}))

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
  def transform_features(serialized):
    return model.tft_layer(tf.io.parse_example(serialized, raw_spec))

  return {
    "serving_default": serve_image_bytes.get_concrete_function(),
    SERVING_EXAMPLES_SIGNATURE: serve_examples.get_concrete_function(),
    TRANSFORM_SIGNATURE: transform_features.get_concrete_function(),
  }


def search_space(model: str) -> keras_tuner.HyperParameters:
  """What the Tuner searches: learning rate and dropout; the CNN's width too."""
  hp = keras_tuner.HyperParameters()
  hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")
  hp.Float("dropout", 0.1, 0.5, step=0.1)
  if model == "cnn":
    hp.Choice("width", [16, 32, 64])
  return hp


def hyperparameters(fn_args: tfx.components.FnArgs, config: TrainingConfig) -> Dict[str, Any]:
  """Configured values, overridden by the Tuner's best ones when a Tuner ran."""
  values = {
    "learning_rate": config.learning_rate,
    "dropout": config.dropout,
    "width": config.width,
  }
  if fn_args.hyperparameters:
    best = keras_tuner.HyperParameters.from_config(fn_args.hyperparameters).values
    logging.info("Using the Tuner's best hyperparameters: %s", best)
    values.update(best)
  return values


def cosine_schedule(rate: float, epochs: int) -> Callable[[int, float], float]:
  """Epoch -> learning rate: cosine decay from `rate` towards 0 over `epochs`."""
  return lambda epoch, _: rate * 0.5 * (1 + math.cos(math.pi * epoch / epochs))


def _build(
  config: TrainingConfig, tf_transform_output: tft.TFTransformOutput, hp: Dict[str, Any]
) -> keras.Model:
  stats = preprocessing.read_image_stats(tf_transform_output)
  size, _, channels = stats["shape"]
  model = build_model(
    config.model,
    size,
    channels,
    tf_transform_output.vocabulary_size_by_name(LABEL_VOCAB),
    variant=config.model_variant,
    weights=config.weights,
    width=int(hp["width"]),
    dropout=float(hp["dropout"]),
    mean=stats["mean"],
    std=stats["std"],
  )
  return compile_model(model, float(hp["learning_rate"]))


def _datasets(
  fn_args, tf_transform_output, config, global_batch, caches: Dict[str, str], images: Dict[str, int]
):
  seed = config.seed
  augmenter = augmentation.build_augmenter(config.augment, seed)
  train = input_fn(
    fn_args.train_files,
    fn_args.data_accessor,
    tf_transform_output,
    global_batch,
    training=True,
    augmenter=augmenter,
    seed=seed,
    cache=caches["train"],
    images=images["train"],
  )
  evaluation = input_fn(
    fn_args.eval_files,
    fn_args.data_accessor,
    tf_transform_output,
    global_batch,
    training=False,
    cache=caches["eval"],
    images=images["eval"],
  )
  return train, evaluation


def _callbacks(
  fn_args,
  train_images: int,
  phase: str,
  epochs: int,
  schedule: Optional[Callable[[int, float], float]] = None,
) -> List[keras.callbacks.Callback]:
  """Logs, early stopping, and the rate: `schedule`'s, else lowered when validation stalls."""
  callbacks = [
    keras.callbacks.TensorBoard(log_dir=os.path.join(fn_args.model_run_dir, phase)),
    EpochLog(os.path.join(fn_args.model_run_dir, TRAINING_LOG), train_images, phase, epochs),
    # Validation is noisy from epoch to epoch on small data: keep the best weights seen.
    keras.callbacks.EarlyStopping(
      monitor="val_loss", patience=4, restore_best_weights=True, verbose=1
    ),
  ]
  callbacks.append(
    keras.callbacks.LearningRateScheduler(schedule)
    if schedule
    else keras.callbacks.ReduceLROnPlateau(
      monitor="val_loss", factor=0.3, patience=2, min_lr=1e-6, verbose=1
    )
  )
  return callbacks


def run_fn(fn_args: tfx.components.FnArgs) -> None:
  """Called by the TFX Trainer: train (two phases with pretrained weights), then export."""
  config = TrainingConfig.from_custom_config(fn_args.custom_config)
  keras.utils.set_random_seed(config.seed)
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_graph_path)
  strategy, _ = distribution.choose_strategy()
  global_batch = config.batch_size * strategy.num_replicas_in_sync
  counts = class_weights.label_counts(tf_transform_output)
  train_images = sum(counts.values())
  weights_by_class = class_weights.class_weights(counts, config.class_weights)
  if weights_by_class:
    logging.info("Class weights: %s", weights_by_class)
  hp = hyperparameters(fn_args, config)
  cache_dir = os.path.join(fn_args.model_run_dir, "cache")
  images = {"train": train_images, "eval": count_records(fn_args.eval_files)}
  caches, choice = cache.choose(config.cache, images, image_shape(tf_transform_output), cache_dir)
  print(choice, flush=True)
  if any(c not in ("memory", "none") for c in caches.values()):
    tf.io.gfile.makedirs(cache_dir)
  try:
    train, evaluation = _datasets(
      fn_args, tf_transform_output, config, global_batch, caches, images
    )
    with strategy.scope():
      model = _build(config, tf_transform_output, hp)
      warm = warm_start.decide(
        model,
        _class_names(tf_transform_output),
        preprocessing.read_image_stats(tf_transform_output).get("resize", "squash"),
        config.warm_start,
        fn_args.base_model,
        config.epochs,
        config.warm_start_epochs,
      )
      rate = float(hp["learning_rate"]) * warm.rate_factor
      if warm.rate_factor != 1.0:
        compile_model(model, rate)
    print(warm_start_line(warm), flush=True)
    epochs = warm.epochs
    schedule = cosine_schedule(rate, epochs) if config.lr_schedule == "cosine" else None
    # verbose=0: EpochLog prints one line an epoch; shuffle=False: input_fn shuffles.
    history = model.fit(
      train,
      validation_data=evaluation,
      epochs=epochs,
      shuffle=False,
      class_weight=weights_by_class,
      verbose=0,
      callbacks=_callbacks(fn_args, train_images, "train", epochs, schedule),
    )
    fine_tune_epochs = config.fine_tune_epochs
    if config.weights and fine_tune_epochs:
      with strategy.scope():
        unfrozen = unfreeze_top(model, config.fine_tune_layers)
        compile_model(model, float(hp["learning_rate"]) * FINE_TUNE_LR_FACTOR)
      logging.info("Fine-tuning the top %d backbone layers", unfrozen)
      done = len(history.epoch)
      model.fit(
        train,
        validation_data=evaluation,
        initial_epoch=done,
        shuffle=False,
        epochs=done + fine_tune_epochs,
        class_weight=weights_by_class,
        verbose=0,
        callbacks=_callbacks(fn_args, train_images, "fine_tune", done + fine_tune_epochs),
      )
  finally:
    if tf.io.gfile.exists(cache_dir):  # as large as the data: not kept with the run's logs
      tf.io.gfile.rmtree(cache_dir)
  _write_settings(fn_args, config, tf_transform_output, hp, global_batch, weights_by_class, warm)
  model.save(os.path.join(fn_args.model_run_dir, KERAS_MODEL))
  tf.saved_model.save(
    model, fn_args.serving_model_dir, signatures=make_serving_signatures(model, tf_transform_output)
  )
  labels.write_class_names(fn_args.serving_model_dir, _class_names(tf_transform_output))
  write_extras(model, fn_args.serving_model_dir, config, tf_transform_output)


def _class_names(tf_transform_output: tft.TFTransformOutput) -> List[str]:
  return [name.decode() for name in tf_transform_output.vocabulary_by_name(LABEL_VOCAB)]


def warm_start_line(decision: warm_start.Decision) -> str:
  """The Trainer's console line on where training starts."""
  if decision.base_model:
    return (
      f"[Trainer] warm start from the last blessed model ({decision.base_model}): "
      f"{decision.epochs} epochs at {decision.rate_factor:g}x the learning rate"
    )
  return f"[Trainer] training from scratch: {decision.reason}"


def standardization(model: keras.Model) -> Optional[tuple]:
  """(mean, std) per channel of the model's own standardization layer (a warm-started model
  keeps its base's), or None for a model without one."""
  layer = next((x for x in model.layers if isinstance(x, keras.layers.Normalization)), None)
  if layer is None:
    return None
  mean = np.ravel(keras.ops.convert_to_numpy(layer.mean)).tolist()
  variance = np.ravel(keras.ops.convert_to_numpy(layer.variance))
  return mean, np.sqrt(variance).tolist()


def write_extras(
  model: keras.Model,
  saved_model_dir: str,
  config: TrainingConfig,
  tf_transform_output: tft.TFTransformOutput,
) -> None:
  """The input contract and the Keras model beside the SavedModel (trainer_module/contract.py),
  for clients that decode images themselves: TFLite, predict, Grad-CAM."""
  stats = preprocessing.read_image_stats(tf_transform_output)
  mean, std = standardization(model) or (stats["mean"], stats["std"])
  contract.write_contract(
    saved_model_dir,
    contract.input_contract(stats["shape"], stats["resize"], config.model, mean, std),
  )
  # The same layers and weights, uncompiled: no optimizer state (a third of the size with Adam).
  keras.Model(model.input, model.output, name=model.name).save(
    os.path.join(saved_model_dir, contract.KERAS_FILE)
  )


def _write_settings(
  fn_args, config, tf_transform_output, hp, global_batch, weights_by_class, warm
) -> None:
  """The settings this run trained with (the Tuner's values and the warm start included), in
  model_run."""
  stats = preprocessing.read_image_stats(tf_transform_output)
  names = _class_names(tf_transform_output)
  settings = {
    "model": config.model,
    "model_variant": config.model_variant if config.model != "cnn" else None,
    "weights": config.weights,
    "input_shape": stats["shape"],
    "resize": stats.get("resize", "squash"),
    "learning_rate": float(hp["learning_rate"]),
    "lr_schedule": config.lr_schedule,
    "epochs": warm.epochs,
    "warm_start": warm.record(),
    "batch_size": global_batch,
    "dropout": float(hp["dropout"]),
    "width": int(hp["width"]) if config.model == "cnn" else None,
    "augment": list(config.augment),
    "class_weights": config.class_weights,
    "class_weights_applied": (
      {names[i]: round(w, 3) for i, w in weights_by_class.items()} if weights_by_class else None
    ),
    "fine_tune_epochs": config.fine_tune_epochs if config.weights else None,
    "tuned": (
      keras_tuner.HyperParameters.from_config(fn_args.hyperparameters).values
      if fn_args.hyperparameters
      else None
    ),
  }
  with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, TRAINING_SETTINGS), "w") as f:
    json.dump(settings, f, indent=1)


def tuner_fn(fn_args: tfx.components.FnArgs) -> tfx.components.TunerFnResult:
  """Called by the TFX Tuner: a Keras Tuner random search over `search_space`."""
  config = TrainingConfig.from_custom_config(fn_args.custom_config)
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_graph_path)
  train, evaluation = _datasets(
    fn_args,
    tf_transform_output,
    config,
    config.batch_size,
    {"train": "memory", "eval": "memory"},
    {
      "train": sum(class_weights.label_counts(tf_transform_output).values()),
      "eval": count_records(fn_args.eval_files),
    },
  )
  fixed = hyperparameters(fn_args, config)
  tuner = keras_tuner.RandomSearch(
    lambda hp: _build(config, tf_transform_output, {**fixed, **hp.values}),
    hyperparameters=search_space(config.model),
    objective=keras_tuner.Objective("val_" + ACCURACY, "max"),
    max_trials=config.tune_trials,
    seed=config.seed,
    directory=fn_args.working_dir,
    project_name="image_classification",
  )
  return tfx.components.TunerFnResult(
    tuner=tuner,
    fit_kwargs={
      "x": train,
      "validation_data": evaluation,
      "epochs": config.tune_epochs,
      "shuffle": False,
      "verbose": 0,
      "callbacks": [keras.callbacks.EarlyStopping(monitor="val_loss", patience=1)],
    },
  )
