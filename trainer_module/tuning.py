"""Tuner's tuner_fn (pipeline.TUNER_FN names it): a Keras Tuner random search over the learning
rate, the dropout and (CNN) the width, training the model run_fn trains.

On the console the search says one line a trial (its values and validation accuracy) and one
line with the values chosen; Keras Tuner's own output (the search space and results summaries
TFX's Tuner executor prints, and anything printed during the search) goes to stderr, which a
run sends to its log file.
"""

import contextlib
import sys
from typing import Any, Dict, Optional

import keras
import keras_tuner
import tensorflow_transform as tft
from absl import logging
from keras_tuner.engine import trial as trial_module
from tfx import v1 as tfx

from schemas.features import ACCURACY
from trainer_module import class_weights, datasets, train
from trainer_module.config import TrainingConfig

PROJECT = "image_classification"


def search_space(model: str) -> keras_tuner.HyperParameters:
  """What the Tuner searches: learning rate and dropout; the CNN's width too."""
  hp = keras_tuner.HyperParameters()
  hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")
  hp.Float("dropout", 0.1, 0.5, step=0.1)
  if model == "cnn":
    hp.Choice("width", [16, 32, 64])
  return hp


def _values(values: Dict[str, Any]) -> str:
  return ", ".join(
    f"{name} {value:.3g}" if isinstance(value, float) else f"{name} {value}"
    for name, value in values.items()
  )


def _metric(name: str) -> str:
  """val_sparse_categorical_accuracy -> validation accuracy."""
  name = name.replace(ACCURACY, "accuracy")
  return "validation " + name[len("val_") :] if name.startswith("val_") else name


def trial_line(
  number: int, trials: int, values: Dict[str, Any], metric: str, score: Optional[float]
) -> str:
  """The console line of one trial: its number, values and score (None: it failed)."""
  result = f"{_metric(metric)} {score:.4f}" if score is not None else "failed (see the log)"
  return f"[Tuner] trial {number}/{trials}: {_values(values)}; {result}"


def chosen_line(
  number: Optional[int], values: Dict[str, Any], metric: str, score: Optional[float]
) -> str:
  """The console line of the values the search chose (number None: no trial completed)."""
  if number is None:
    return "[Tuner] no trial completed (see the log)"
  return f"[Tuner] chosen: {_values(values)} (trial {number}, {_metric(metric)} {score:.4f})"


class OneLineSearch(keras_tuner.RandomSearch):
  """Keras Tuner's random search, saying one console line a trial and one for the values
  chosen; Keras Tuner's own output goes to stderr."""

  def __init__(self, *args, **kwargs):
    with contextlib.redirect_stdout(sys.stderr):  # e.g. "Reloading Tuner from ..."
      super().__init__(*args, **kwargs)
    self._numbers: Dict[str, int] = {}  # trial id -> trial number, from 1
    self._console = None  # stdout while the search sends everything else to stderr

  def _say(self, line: str) -> None:
    print(line, file=self._console or sys.stdout, flush=True)

  def search(self, *fit_args, **fit_kwargs):
    self._console = sys.stdout
    try:
      with contextlib.redirect_stdout(sys.stderr):
        super().search(*fit_args, **fit_kwargs)
    finally:
      self._console = None

  def search_space_summary(self, extended=False):
    with contextlib.redirect_stdout(sys.stderr):
      super().search_space_summary(extended)

  def results_summary(self, num_trials=10):
    with contextlib.redirect_stdout(sys.stderr):
      super().results_summary(num_trials)

  def on_trial_begin(self, trial):
    super().on_trial_begin(trial)
    self._numbers.setdefault(trial.trial_id, len(self._numbers) + 1)

  def on_trial_end(self, trial):
    super().on_trial_end(trial)  # the oracle scores the trial
    completed = trial.status == trial_module.TrialStatus.COMPLETED
    if not completed:
      logging.warning("Tuner trial %s failed: %s", trial.trial_id, trial.message)
    self._say(
      trial_line(
        self._numbers.get(trial.trial_id, len(self._numbers)),
        self.oracle.max_trials,
        trial.hyperparameters.values,
        self.oracle.objective.name,
        trial.score if completed else None,
      )
    )

  def on_search_end(self):
    super().on_search_end()
    best = self.oracle.get_best_trials(1)
    if not best:
      self._say(chosen_line(None, {}, self.oracle.objective.name, None))
      return
    self._say(
      chosen_line(
        self._numbers.get(best[0].trial_id),
        best[0].hyperparameters.values,
        self.oracle.objective.name,
        best[0].score,
      )
    )


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
  tuner = OneLineSearch(
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
      "verbose": 0,  # no progress bars; the trials' lines are OneLineSearch's
      "callbacks": [keras.callbacks.EarlyStopping(monitor="val_loss", patience=1)],
    },
  )
