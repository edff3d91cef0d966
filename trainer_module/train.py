"""Trainer's run_fn (pipeline.RUN_FN names it): fit on Transform's output, export for TF Serving.

Training reads datasets.py's input, with callbacks.py's logs, early stopping and rate; the
model is saved by export.py. The hyperparameters are the configured ones, or the best the
Tuner (tuning.py) found when it ran.
"""

import dataclasses
import json
import os
from typing import Any, Dict, List, Optional

import keras
import keras_tuner
import tensorflow as tf
import tensorflow_transform as tft
from absl import logging
from tfx import v1 as tfx

from schemas.features import LABEL_VOCAB
from schemas.filenames import TRAINING_SETTINGS
from schemas.nodes import TRAINER
from trainer_module import (
  advice,
  cache,
  callbacks,
  class_weights,
  datasets,
  distribution,
  ensemble,
  export,
  labels,
  preprocessing,
  warm_start,
)
from trainer_module.config import TrainingConfig
from trainer_module.model import BACKBONE, build_model, compile_model, unfreeze_top

FINE_TUNE_LR_FACTOR = 0.1


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


def build(
  config: TrainingConfig,
  tf_transform_output: tft.TFTransformOutput,
  hp: Dict[str, Any],
  name: Optional[str] = None,
) -> keras.Model:
  """The configured model (or architecture `name`: an ensemble member) for Transform's images
  and classes, compiled with `hp`'s rate. --model-variant and --weights apply to --model's
  architecture; another member gets its family's default variant and no weights."""
  stats = preprocessing.read_image_stats(tf_transform_output)
  size, _, channels = stats["shape"]
  own = name in (None, config.model)
  model = build_model(
    name or config.model,
    size,
    channels,
    tf_transform_output.vocabulary_size_by_name(LABEL_VOCAB),
    variant=config.variant_of(name or config.model),
    weights=config.initial_weights if own else None,
    width=int(hp["width"]),
    dropout=float(hp["dropout"]),
    mean=stats["mean"],
    std=stats["std"],
  )
  return compile_model(model, float(hp["learning_rate"]), **config.compile_options)


@dataclasses.dataclass
class Fitting:
  """What each model of one training run is fitted on and with: the data, the settings (the
  Tuner's values included), the class weights and the folder of its logs; `stage` labels the
  console lines (the Trainer's, or LabelIssues' fold models')."""

  config: TrainingConfig
  hp: Dict[str, Any]
  strategy: tf.distribute.Strategy
  train: tf.data.Dataset
  evaluation: tf.data.Dataset
  train_images: int
  class_weight: Optional[Dict[int, float]]
  log_dir: str
  stage: str = TRAINER

  def fit(self, model: keras.Model, epochs: int, rate: float, phase: str) -> None:
    """The training phase (then fine-tuning, for a pretrained backbone) of one model."""
    config, strategy = self.config, self.strategy
    schedule = callbacks.cosine_schedule(rate, epochs) if config.lr_schedule == "cosine" else None
    distribution.prepare_fit(model, self.train, strategy)
    # verbose=0: EpochLog prints one line an epoch; shuffle=False: input_fn shuffles.
    history = model.fit(
      self.train,
      validation_data=self.evaluation,
      epochs=epochs,
      shuffle=False,
      class_weight=self.class_weight,
      verbose=0,
      callbacks=callbacks.for_phase(
        self.log_dir, self.train_images, phase, epochs, schedule, self.stage, config.ema
      ),
    )
    fine_tune_epochs = config.fine_tune_epochs
    if not (config.initial_weights and fine_tune_epochs and BACKBONE in _layer_names(model)):
      return
    with strategy.scope():
      unfrozen = unfreeze_top(model, config.fine_tune_layers)
      rate = float(self.hp["learning_rate"]) * FINE_TUNE_LR_FACTOR
      compile_model(model, rate, **config.compile_options)
    logging.info("Fine-tuning the top %d backbone layers", unfrozen)
    done = len(history.epoch)
    distribution.prepare_fit(model, self.train, strategy)
    model.fit(
      self.train,
      validation_data=self.evaluation,
      initial_epoch=done,
      shuffle=False,
      epochs=done + fine_tune_epochs,
      class_weight=self.class_weight,
      verbose=0,
      callbacks=callbacks.for_phase(
        self.log_dir,
        self.train_images,
        phase.replace("train", "") + "fine_tune",
        done + fine_tune_epochs,
        stage=self.stage,
        ema=config.ema,
      ),
    )

  def from_scratch(
    self, tf_transform_output: tft.TFTransformOutput, prefix: str = ""
  ) -> keras.Model:
    """The configured model trained from scratch for --epochs; an ensemble's members one after
    the other (each from its own seed), then their average. `prefix` starts each phase's name
    (e.g. fold_1_)."""
    config, hp = self.config, self.hp
    plan = ensemble.members(config)
    if len(plan) == 1:
      with self.strategy.scope():
        model = build(config, tf_transform_output, hp)
      self.fit(model, config.epochs, float(hp["learning_rate"]), f"{prefix}train")
      return model
    trained = []
    for i, member in enumerate(plan):
      print(
        f"[{self.stage}] {prefix.replace('_', ' ')}ensemble member {i + 1}/{len(plan)}: "
        f"{member.model}, seed {member.seed}",
        flush=True,
      )
      keras.utils.set_random_seed(member.seed)
      with self.strategy.scope():
        trained.append(build(config, tf_transform_output, hp, member.model))
      self.fit(
        trained[-1], config.epochs, float(hp["learning_rate"]), f"{prefix}member_{i + 1}_train"
      )
    return ensemble.combine(trained)


def run_fn(fn_args: tfx.components.FnArgs) -> None:
  """Called by the TFX Trainer: train (two phases with pretrained weights), then export."""
  config = TrainingConfig.from_custom_config(fn_args.custom_config)
  strategy, _ = distribution.choose_strategy(config.mixed_precision)  # before any other TF op
  # The chief writes to the Trainer's outputs; another worker to folders of its own, deleted.
  with distribution.writable_dirs(strategy, fn_args.model_run_dir, fn_args.serving_model_dir) as (
    model_run_dir,
    serving_model_dir,
  ):
    _train_and_export(fn_args, config, strategy, model_run_dir, serving_model_dir)
  distribution.barrier(strategy)  # every worker leaves once the chief's model is written


@dataclasses.dataclass
class Inputs:
  """What one Trainer run reads before it trains: Transform's output, the Tuner's (or the
  config's) hyperparameters, the class counts and weights, the batch, the examples' caches."""

  tf_transform_output: tft.TFTransformOutput
  hp: Dict[str, Any]
  train_images: int
  weights_by_class: Optional[Dict[int, float]]
  global_batch: int
  images: Dict[str, int]
  caches: Dict[str, str]
  cache_dir: str


def _inputs(fn_args, config: TrainingConfig, strategy, model_run_dir: str) -> Inputs:
  """Reads what training needs and says where the examples are cached (and a from-scratch
  warning when an ImageNet family has no weights)."""
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_graph_path)
  counts = class_weights.label_counts(tf_transform_output)
  train_images = sum(counts.values())
  weights_by_class = class_weights.class_weights(counts, config.class_weights)
  if weights_by_class:
    logging.info("Class weights: %s", weights_by_class)
  cache_dir = os.path.join(model_run_dir, "cache")
  images = {"train": train_images, "eval": datasets.count_records(fn_args.eval_files)}
  caches, choice = cache.choose(
    config.cache, images, datasets.image_shape(tf_transform_output), cache_dir
  )
  print(choice, flush=True)
  scratch = advice.from_scratch_line(
    config.model, config.variant, config.initial_weights, train_images
  )
  if scratch:
    print(scratch, flush=True)
  if any(c not in ("memory", "none") for c in caches.values()):
    tf.io.gfile.makedirs(cache_dir)
  return Inputs(
    tf_transform_output,
    hyperparameters(fn_args, config),
    train_images,
    weights_by_class,
    config.batch_size * strategy.num_replicas_in_sync,
    images,
    caches,
    cache_dir,
  )


def _train_and_export(
  fn_args: tfx.components.FnArgs,
  config: TrainingConfig,
  strategy: tf.distribute.Strategy,
  model_run_dir: str,
  serving_model_dir: str,
) -> None:
  """Trains under `strategy` (one model, warm-started when it can be, or an ensemble from
  scratch), writing logs, the settings and the model to the given folders."""
  keras.utils.set_random_seed(config.seed)
  given = _inputs(fn_args, config, strategy, model_run_dir)
  plan = ensemble.members(config)
  try:
    train, evaluation = datasets.train_and_eval(
      fn_args, given.tf_transform_output, config, given.global_batch, given.caches, given.images
    )
    fitting = Fitting(
      config,
      given.hp,
      strategy,
      train,
      evaluation,
      given.train_images,
      given.weights_by_class,
      model_run_dir,
    )
    if len(plan) == 1:
      model, warm = _warm_started(fitting, given, fn_args.base_model)
    else:
      warm = warm_start.Decision(None, "an ensemble's members train from scratch", config.epochs)
      print(warm_start_line(warm), flush=True)
      model = fitting.from_scratch(given.tf_transform_output)
  finally:
    if tf.io.gfile.exists(given.cache_dir):  # as large as the data: not kept with the logs
      tf.io.gfile.rmtree(given.cache_dir)
  settings = settings_record(config, given, warm, plan, fn_args.hyperparameters)
  with tf.io.gfile.GFile(os.path.join(model_run_dir, TRAINING_SETTINGS), "w") as f:
    json.dump(settings, f, indent=1)
  export.save(model, model_run_dir, serving_model_dir, config, given.tf_transform_output)


def _warm_started(fitting: Fitting, given: Inputs, base_model: Optional[str]):
  """(the model, trained from the last blessed model when it fits, else from scratch; the
  warm-start decision)."""
  config, output = fitting.config, given.tf_transform_output
  with fitting.strategy.scope():
    model = build(config, output, given.hp)
    warm = warm_start.decide(
      model,
      labels.from_transform(output),
      preprocessing.read_image_stats(output).get("resize", "squash"),
      config.warm_start,
      base_model,
      config.epochs,
      config.warm_start_epochs,
    )
    rate = float(given.hp["learning_rate"]) * warm.rate_factor
    if warm.rate_factor != 1.0:
      compile_model(model, rate, **config.compile_options)
  print(warm_start_line(warm), flush=True)
  fitting.fit(model, warm.epochs, rate, "train")
  return model, warm


def warm_start_line(decision: warm_start.Decision) -> str:
  """The Trainer's console line on where training starts."""
  if decision.base_model:
    return (
      f"[Trainer] warm start from the last blessed model ({decision.base_model}): "
      f"{decision.epochs} epochs at {decision.rate_factor:g}x the learning rate"
    )
  return f"[Trainer] training from scratch: {decision.reason}"


def _layer_names(model: keras.Model) -> List[str]:
  return [layer.name for layer in model.layers]


def settings_record(
  config: TrainingConfig,
  given: Inputs,
  warm: warm_start.Decision,
  plan: List[ensemble.Member],
  tuned: Optional[Dict[str, Any]] = None,
) -> Dict[str, Any]:
  """training_settings.json: the settings this run trained with (the Tuner's values, `tuned`,
  and the warm start included), for the model card."""
  stats = preprocessing.read_image_stats(given.tf_transform_output)
  names = labels.from_transform(given.tf_transform_output)
  hp, weights_by_class = given.hp, given.weights_by_class
  architectures = {member.model for member in plan}
  settings = {
    "model": config.model if len(plan) == 1 else ensemble.NAME,
    "model_variant": config.variant if architectures - {"cnn"} else None,
    "weights": config.initial_weights,
    "input_shape": stats["shape"],
    "resize": stats.get("resize", "squash"),
    "learning_rate": float(hp["learning_rate"]),
    "lr_schedule": config.lr_schedule,
    "epochs": warm.epochs,
    "warm_start": warm.record(),
    "batch_size": given.global_batch,
    "precision": keras.mixed_precision.global_policy().name,
    "dropout": float(hp["dropout"]),
    "width": int(hp["width"]) if "cnn" in architectures else None,
    "augment": list(config.augment),
    "label_smoothing": config.label_smoothing,
    "ema": config.ema,
    "recipe": config.recipe,
    "class_weights": config.class_weights,
    "class_weights_applied": (
      {names[i]: round(w, 3) for i, w in weights_by_class.items()} if weights_by_class else None
    ),
    "fine_tune_epochs": config.fine_tune_epochs if config.initial_weights else None,
    "ensemble": [member.record() for member in plan] if len(plan) > 1 else None,
    "tuned": keras_tuner.HyperParameters.from_config(tuned).values if tuned else None,
  }
  return settings
