"""The Trainer's callbacks, driven by hand (no training): the rate, early stopping and what
reaches the console."""

import json

import keras
import numpy as np
import pytest

from schemas.filenames import TRAINING_LOG
from trainer_module import callbacks


def _model():
  model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
  model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
  return model


def test_plateau_schedule_is_a_constant_rate_lowered_by_a_callback(tmp_path):
  cosine = callbacks.for_phase(str(tmp_path), 100, "train", 8, callbacks.cosine_schedule(1e-3, 8))
  plateau = callbacks.for_phase(str(tmp_path), 100, "train", 8)
  assert [type(c).__name__ for c in cosine][-1] == "LearningRateScheduler"
  (reduce,) = [c for c in plateau if isinstance(c, keras.callbacks.ReduceLROnPlateau)]
  assert (reduce.monitor, reduce.factor, reduce.patience) == ("val_loss", 0.3, 2)
  assert reduce.verbose == 0  # the epoch lines show the rate
  assert not any(isinstance(c, keras.callbacks.LearningRateScheduler) for c in plateau)
  assert [round(callbacks.cosine_schedule(1e-3, 4)(e, None), 6) for e in range(4)] == [
    0.001,
    0.000854,
    0.0005,
    0.000146,
  ]


def _fit_by_hand(callback, model, val_losses):
  """What model.fit does with the callback, without training: each epoch's weights are new."""
  callback.set_model(model)
  callback.on_train_begin()
  for epoch, loss in enumerate(val_losses):
    model.set_weights([np.full_like(w, epoch) for w in model.get_weights()])
    callback.on_epoch_end(epoch, {"val_loss": loss})
    if model.stop_training:
      break
  callback.on_train_end()


def test_early_stopping_keeps_the_best_weights_and_says_so_in_one_line(capsys):
  model = _model()
  _fit_by_hand(callbacks.BestWeights(patience=2), model, [0.9, 0.5, 0.6, 0.7, 0.1, 0.1])
  assert capsys.readouterr().out == (
    "[Trainer] stopped early after epoch 4; keeping the weights of epoch 2 "
    "(the lowest validation loss, 0.5000)\n"
  )
  assert all((w == 1).all() for w in model.get_weights())  # epoch 2's (counted from 0: 1)


def test_early_stopping_says_nothing_when_the_last_epoch_is_the_best(capsys):
  model = _model()
  _fit_by_hand(callbacks.BestWeights(), model, [0.9, 0.5, 0.4])
  assert capsys.readouterr().out == ""
  assert all((w == 2).all() for w in model.get_weights())


def test_the_best_weights_of_a_run_that_did_not_stop_early():
  assert callbacks.kept_weights_line(5, 7, False, 0.12345) == (
    "[Trainer] keeping the weights of epoch 6 (the lowest validation loss, 0.1235)"
  )
  assert callbacks.kept_weights_line(7, 7, False, 0.1) == ""


def test_each_epoch_is_one_log_record_and_one_console_line(tmp_path, capsys):
  model = _model()
  log = callbacks.EpochLog(str(tmp_path / TRAINING_LOG), 640, "fine_tune", epochs=3)
  log.set_model(model)
  log.on_epoch_begin(1)
  log.on_test_begin()
  log.on_epoch_end(1, {"loss": 0.5, "sparse_categorical_accuracy": 0.8, "val_loss": 0.25})
  with open(tmp_path / TRAINING_LOG) as f:
    (record,) = [json.loads(line) for line in f]
  assert record["phase"] == "fine_tune" and record["epoch"] == 2
  assert record["learning_rate"] == keras.ops.convert_to_numpy(model.optimizer.learning_rate)
  (line,) = capsys.readouterr().out.splitlines()
  assert line.startswith(
    "[Trainer] epoch 2/3 (fine-tune): loss 0.5000, accuracy 0.8000; validation loss 0.2500; "
    "rate 0.001; "
  )
  assert line.endswith(" images/s")


@pytest.mark.integration  # a Keras fit loop
def test_with_ema_training_ends_with_the_averaged_weights_not_the_last_steps(tmp_path):
  keras.utils.set_random_seed(0)
  x = np.random.default_rng(0).normal(size=(256, 2)).astype(np.float32)
  y = x @ np.array([[3.0], [-2.0]], np.float32)
  model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
  model.compile(optimizer=keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.9), loss="mse")
  raw = []

  class LastStep(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
      raw.append([w.copy() for w in self.model.get_weights()])

  phase = callbacks.for_phase(
    str(tmp_path), 256, "train", 3, callbacks.cosine_schedule(0.1, 3), ema=True
  )
  assert isinstance(phase[0], keras.callbacks.SwapEMAWeights)  # before early stopping's copy
  model.fit(
    x, y, batch_size=32, epochs=3, validation_data=(x, y), verbose=0, callbacks=[*phase, LastStep()]
  )
  averages = model.optimizer._model_variables_moving_average  # noqa: SLF001  (the EMA itself)
  for weight, average, last in zip(model.get_weights(), averages, raw[-1]):
    np.testing.assert_allclose(weight, keras.ops.convert_to_numpy(average), rtol=1e-6)
    assert not np.allclose(weight, last)  # not the last step's raw weights
  assert np.abs(model.get_weights()[0].ravel() - [3.0, -2.0]).max() < 1.0  # and it learned


def _summaries(log_dir):
  """{(run folder, tag): [steps]} of every scalar summary in a TensorBoard log dir."""
  import tensorflow as tf  # noqa: PLC0415  (event files: read with TensorFlow's own reader)

  found = {}
  for folder in sorted(tf.io.gfile.listdir(log_dir)):
    for name in tf.io.gfile.glob(f"{log_dir}/{folder}/events.*"):
      for event in tf.compat.v1.train.summary_iterator(name):
        for value in event.summary.value:
          found.setdefault((folder.strip("/"), value.tag), []).append(event.step)
  return found


@pytest.mark.integration  # a Keras fit loop
def test_tensorboard_logs_the_epochs_as_keras_does_without_building_batch_summaries(tmp_path):
  x = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
  logs = {}
  for name, kind in (("keras", keras.callbacks.TensorBoard), ("ours", callbacks.EpochTensorBoard)):
    keras.utils.set_random_seed(0)
    model, built = _model(), []
    board = kind(log_dir=str(tmp_path / name))
    board._summary_module = _Recording(board.summary, built)  # noqa: SLF001  (what it builds)
    model.fit(
      x,
      x[:, :1],
      batch_size=8,
      epochs=2,
      validation_data=(x, x[:, :1]),
      verbose=0,
      callbacks=[board],
    )
    logs[name] = (_summaries(str(tmp_path / name)), built)
  (keras_logs, keras_built), (ours, built) = logs["keras"], logs["ours"]
  assert ours == keras_logs  # the same tags at the same steps: the epochs' loss, both runs
  assert {("train", "epoch_loss"), ("validation", "epoch_loss")} <= set(ours)
  assert ours[("train", "epoch_loss")] == [0, 1]
  assert any(tag.startswith("batch_") for tag in keras_built)  # Keras builds them, unrecorded
  assert not any(tag.startswith("batch_") for tag in built)


class _Recording:
  """A summary module whose scalar() notes each tag before the real one."""

  def __init__(self, module, tags):
    self._module, self._tags = module, tags

  def scalar(self, tag, *args, **kwargs):
    self._tags.append(tag)
    return self._module.scalar(tag, *args, **kwargs)

  def __getattr__(self, name):
    return getattr(self._module, name)
