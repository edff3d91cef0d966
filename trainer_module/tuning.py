"""Tuner's tuner_fn (pipeline.TUNER_FN names it): a Keras Tuner random search over the learning
rate, the dropout and (CNN) the width, training the model run_fn trains."""

import keras
import keras_tuner
import tensorflow_transform as tft
from tfx import v1 as tfx

from trainer_module import class_weights, datasets, train
from trainer_module.config import TrainingConfig
from trainer_module.constants import ACCURACY

PROJECT = "image_classification"


def search_space(model: str) -> keras_tuner.HyperParameters:
  """What the Tuner searches: learning rate and dropout; the CNN's width too."""
  hp = keras_tuner.HyperParameters()
  hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")
  hp.Float("dropout", 0.1, 0.5, step=0.1)
  if model == "cnn":
    hp.Choice("width", [16, 32, 64])
  return hp


def tuner_fn(fn_args: tfx.components.FnArgs) -> tfx.components.TunerFnResult:
  """Called by the TFX Tuner: a Keras Tuner random search over `search_space`."""
  config = TrainingConfig.from_custom_config(fn_args.custom_config)
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_graph_path)
  train_data, evaluation = datasets.train_and_eval(
    fn_args,
    tf_transform_output,
    config,
    config.batch_size,
    {"train": "memory", "eval": "memory"},
    {
      "train": sum(class_weights.label_counts(tf_transform_output).values()),
      "eval": datasets.count_records(fn_args.eval_files),
    },
  )
  fixed = train.hyperparameters(fn_args, config)
  tuner = keras_tuner.RandomSearch(
    lambda hp: train.build(config, tf_transform_output, {**fixed, **hp.values}),
    hyperparameters=search_space(config.model),
    objective=keras_tuner.Objective("val_" + ACCURACY, "max"),
    max_trials=config.tune_trials,
    seed=config.seed,
    directory=fn_args.working_dir,
    project_name=PROJECT,
  )
  return tfx.components.TunerFnResult(
    tuner=tuner,
    fit_kwargs={
      "x": train_data,
      "validation_data": evaluation,
      "epochs": config.tune_epochs,
      "shuffle": False,
      "verbose": 0,
      "callbacks": [keras.callbacks.EarlyStopping(monitor="val_loss", patience=1)],
    },
  )
