"""The Trainer's Keras callbacks: its console and log lines, early stopping, the learning rate.

The console gets one line an epoch (EpochLog) and, when the weights kept are not the last
epoch's, one line saying which (BestWeights); Keras' own callback messages stay off stdout.
"""

import json
import math
import os
import time
from typing import Any, Callable, Dict, List, Optional

import keras
import tensorflow as tf

from schemas.features import ACCURACY
from schemas.filenames import TRAINING_LOG
from schemas.nodes import TRAINER


class EpochLog(keras.callbacks.Callback):
  """Appends each epoch's metrics, learning rate, training seconds, images/s (and on a GPU its
  peak memory) to a JSON-lines file, and prints them as one line (with `epochs`, the planned
  number, if given), labelled with the pipeline `stage` that trains."""

  def __init__(
    self,
    path: str,
    train_images: int,
    phase: str,
    epochs: Optional[int] = None,
    stage: str = TRAINER,
  ):
    super().__init__()
    self.path, self.train_images, self.phase, self.epochs = path, train_images, phase, epochs
    self.stage = stage
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
    if tf.config.list_logical_devices("GPU"):  # what the first GPU held at most so far
      record["gpu_peak_mb"] = round(tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20)
    with tf.io.gfile.GFile(self.path, "a") as f:
      f.write(json.dumps(record) + "\n")
    print(epoch_line(record, self.epochs, self.stage), flush=True)


def epoch_line(record: Dict[str, Any], epochs: Optional[int] = None, stage: str = TRAINER) -> str:
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
    f"[{stage}] epoch {record['epoch']}{f'/{epochs}' if epochs else ''}{phase}: "
    f"{metrics('')}"
    + (f"; validation {validation}" if validation else "")
    + f"; rate {record['learning_rate']:.2g}; {record['train_seconds']:.1f} s, "
    f"{record['images_per_second']:.0f} images/s"
  )


class BestWeights(keras.callbacks.EarlyStopping):
  """Early stopping on the validation loss, keeping the best epoch's weights (validation is
  noisy from epoch to epoch on small data). Quiet: Keras' own "early stopping" and "Restoring
  model weights" messages would go to stdout; instead one line says which epoch's weights are
  kept, only when they are not the last epoch's."""

  def __init__(self, patience: int = 4, stage: str = TRAINER):
    super().__init__(monitor="val_loss", patience=patience, restore_best_weights=True, verbose=0)
    self.last_epoch: Optional[int] = None
    self.stage = stage

  def on_train_begin(self, logs=None):
    super().on_train_begin(logs)
    self.last_epoch = None

  def on_epoch_end(self, epoch, logs=None):
    super().on_epoch_end(epoch, logs)
    self.last_epoch = epoch

  def on_train_end(self, logs=None):
    super().on_train_end(logs)  # restores the best weights
    if self.best_weights is not None and self.last_epoch is not None:
      line = kept_weights_line(
        self.best_epoch, self.last_epoch, self.stopped_epoch > 0, self.best, self.stage
      )
      if line:
        print(line, flush=True)


def kept_weights_line(
  best_epoch: int, last_epoch: int, stopped: bool, best_loss: float, stage: str = TRAINER
) -> str:
  """The console line on the weights training ends with (epochs counted from 0, as Keras
  does), or '' when they are the last epoch's."""
  if best_epoch == last_epoch:
    return ""
  stop = f"stopped early after epoch {last_epoch + 1}; " if stopped else ""
  return (
    f"[{stage}] {stop}keeping the weights of epoch {best_epoch + 1} "
    f"(the lowest validation loss, {best_loss:.4f})"
  )


class EpochTensorBoard(keras.callbacks.TensorBoard):
  """Keras' TensorBoard callback with its default update_freq="epoch", less the per-batch
  scalar summaries that Keras 3 builds after every batch even then (no writer records them:
  0.15-0.3 ms a batch, about 1 s of the 4,300 batches of 5 Fashion-MNIST epochs)."""

  def on_train_batch_end(self, batch, logs=None):
    super().on_train_batch_end(batch, logs=None)  # the graph and profiler steps, not the logs


def cosine_schedule(rate: float, epochs: int) -> Callable[[int, float], float]:
  """Epoch -> learning rate: cosine decay from `rate` towards 0 over `epochs`."""
  return lambda epoch, _: rate * 0.5 * (1 + math.cos(math.pi * epoch / epochs))


def for_phase(
  model_run_dir: str,
  train_images: int,
  phase: str,
  epochs: int,
  schedule: Optional[Callable[[int, float], float]] = None,
  stage: str = TRAINER,
  ema: bool = False,
) -> List[keras.callbacks.Callback]:
  """Logs, early stopping, and the rate: `schedule`'s, else lowered when validation stalls (the
  epoch lines show the rate, so ReduceLROnPlateau says nothing itself). `stage` labels the
  console lines (the Trainer, or LabelIssues' fold models). With `ema` (an optimizer with
  use_ema), the averaged weights are in the model from each epoch's end to the next epoch's
  start: validation, early stopping's best weights (which the model ends with) and so the
  exported model are the averaged ones."""
  callbacks = [keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if ema else []
  callbacks += [
    EpochTensorBoard(log_dir=os.path.join(model_run_dir, phase)),
    EpochLog(os.path.join(model_run_dir, TRAINING_LOG), train_images, phase, epochs, stage),
    BestWeights(patience=4, stage=stage),
  ]
  callbacks.append(
    keras.callbacks.LearningRateScheduler(schedule)
    if schedule
    else keras.callbacks.ReduceLROnPlateau(
      monitor="val_loss", factor=0.3, patience=2, min_lr=1e-6, verbose=0
    )
  )
  return callbacks
