"""tuner_fn's search through the real Tuner executor: its best values feed the Trainer."""

import json
import os

import pytest
import tensorflow as tf

from tests import training
from tests.training import BASE_CONFIG, assert_serves_digits

pytestmark = pytest.mark.integration  # Beam, TFX executors, training or subprocesses


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
