"""tuner_fn's search: one console line a trial and one for the values chosen, the rest of Keras
Tuner's output on stderr; its best values feed the Trainer."""

import json
import os
import re

import keras
import keras_tuner
import pytest
import tensorflow as tf

from schemas.features import ACCURACY
from tests import training
from tests.training import BASE_CONFIG, assert_serves_digits
from trainer_module import tuning

OBJECTIVE = "val_" + ACCURACY
TRIAL_LINE = re.compile(
  r"\[Tuner\] trial (\d)/2: learning_rate [0-9.e-]+, dropout 0\.\d, width (16|32|64); "
  r"validation accuracy (\d\.\d{4})"
)
CHOSEN_LINE = re.compile(
  r"\[Tuner\] chosen: learning_rate [0-9.e-]+, dropout 0\.\d, width (16|32|64) "
  r"\(trial (\d), validation accuracy (\d\.\d{4})\)"
)


class _Scored(tuning.OneLineSearch):
  """The search with each trial's score given, not trained for (unit tests)."""

  def __init__(self, scores, **kwargs):
    super().__init__(**kwargs)
    self.scores = list(scores)

  def run_trial(self, trial, *args, **kwargs):
    print("Keras Tuner's own output")  # as Keras Tuner prints its tables
    score = self.scores.pop(0)
    if score is None:
      raise ValueError("this trial's model did not build")
    return {OBJECTIVE: score}


def _search(tmp_path, scores, verbose=0):
  tuner = _Scored(
    scores,
    hypermodel=lambda hp: keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]),
    hyperparameters=tuning.search_space("cnn"),
    objective=keras_tuner.Objective(OBJECTIVE, "max"),
    max_trials=len(scores),
    seed=1,
    directory=str(tmp_path),
    project_name="t",
  )
  tuner.search_space_summary()  # as TFX's Tuner executor calls them
  tuner.search(verbose=verbose)
  tuner.results_summary()
  return tuner


def test_each_trial_is_one_line_and_the_choice_another(tmp_path, capsys):
  tuner = _search(tmp_path, [0.5, 0.75], verbose=1)
  out, err = capsys.readouterr()
  trials = tuner.oracle.get_best_trials(2)
  assert out.splitlines() == [
    tuning.trial_line(1, 2, trials[1].hyperparameters.values, OBJECTIVE, 0.5),
    tuning.trial_line(2, 2, trials[0].hyperparameters.values, OBJECTIVE, 0.75),
    tuning.chosen_line(2, trials[0].hyperparameters.values, OBJECTIVE, 0.75),
  ]
  assert [int(TRIAL_LINE.fullmatch(line)[1]) for line in out.splitlines()[:2]] == [1, 2]
  assert CHOSEN_LINE.fullmatch(out.splitlines()[2])[2] == "2"
  # Keras Tuner's summaries, its per-trial display (verbose=1) and anything printed during the
  # search go to stderr.
  for text in ("Search space summary", "Search: Running Trial #1", "Keras Tuner's own output"):
    assert text in err
  assert "Results summary" in err and "Best val_sparse_categorical_accuracy So Far" in err


def test_a_failed_trial_is_one_line_too(tmp_path, capsys):
  _search(tmp_path, [None, 0.25])
  lines = capsys.readouterr().out.splitlines()
  assert len(lines) == 3
  assert lines[0].startswith("[Tuner] trial 1/2: ") and lines[0].endswith("; failed (see the log)")
  assert lines[1].endswith("; validation accuracy 0.2500")
  assert lines[2].endswith(" (trial 2, validation accuracy 0.2500)")


def test_the_lines_show_values_as_people_read_them():
  values = {"learning_rate": 0.0012345678, "dropout": 0.30000000000000004, "width": 32}
  assert tuning.trial_line(1, 3, values, OBJECTIVE, 0.91234) == (
    "[Tuner] trial 1/3: learning_rate 0.00123, dropout 0.3, width 32; validation accuracy 0.9123"
  )
  assert tuning.chosen_line(None, {}, OBJECTIVE, None) == (
    "[Tuner] no trial completed (see the log)"
  )


@pytest.mark.integration  # the Tuner's executor trains
def test_a_real_search_prints_a_line_a_trial_and_the_choice(digits_transformed, tmp_path, capsys):
  config = {**BASE_CONFIG, "tune_trials": 2, "tune_epochs": 1}
  best = training.run_tuner(*digits_transformed, str(tmp_path / "tuner"), config)
  out, err = capsys.readouterr()
  lines = out.splitlines()
  assert len(lines) == 3, out
  trials = [TRIAL_LINE.fullmatch(line) for line in lines[:2]]
  assert all(trials), lines
  assert [int(t[1]) for t in trials] == [1, 2]
  chosen = CHOSEN_LINE.fullmatch(lines[2])
  assert chosen, lines[2]
  scores = [float(t[3]) for t in trials]
  assert float(chosen[3]) == max(scores) and chosen[2] == str(scores.index(max(scores)) + 1)
  with open(os.path.join(best.uri, "best_hyperparameters.txt")) as f:
    values = json.load(f)["values"]
  assert chosen[1] == str(values["width"])
  assert "Search space summary" in err and "Results summary" in err  # for the log


@pytest.mark.integration  # the Tuner's and Trainer's executors train
def test_tuner_best_hyperparameters_feed_the_trainer(digits_transformed, tmp_path):
  config = {**BASE_CONFIG, "tune_trials": 2, "tune_epochs": 1}
  best = training.run_tuner(*digits_transformed, str(tmp_path / "tuner"), config)
  with open(os.path.join(best.uri, "best_hyperparameters.txt")) as f:
    values = json.load(f)["values"]
  assert set(values) == {"learning_rate", "dropout", "width"}
  trained, _ = training.run_trainer(
    *digits_transformed, str(tmp_path / "trainer"), config, hyperparameters=best
  )
  assert_serves_digits(trained)
  # The first convolution has the tuned width.
  checkpoint = os.path.join(training.serving_model_dir(trained), "variables", "variables")
  kernels = {
    tuple(shape)
    for _, shape in tf.train.list_variables(checkpoint)
    if len(shape) == 4 and shape[2] == 1
  }
  assert kernels == {(3, 3, 1, values["width"])}
