"""The Trainer's Keras callbacks: its console and log lines, early stopping, the learning rate."""

import json
import math
import os
import time
from typing import Any, Callable, Dict, List, Optional

import keras
import tensorflow as tf

from trainer_module.constants import ACCURACY, TRAINING_LOG


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


def cosine_schedule(rate: float, epochs: int) -> Callable[[int, float], float]:
  """Epoch -> learning rate: cosine decay from `rate` towards 0 over `epochs`."""
  return lambda epoch, _: rate * 0.5 * (1 + math.cos(math.pi * epoch / epochs))


def for_phase(
  model_run_dir: str,
  train_images: int,
  phase: str,
  epochs: int,
  schedule: Optional[Callable[[int, float], float]] = None,
) -> List[keras.callbacks.Callback]:
  """Logs, early stopping, and the rate: `schedule`'s, else lowered when validation stalls."""
  callbacks = [
    keras.callbacks.TensorBoard(log_dir=os.path.join(model_run_dir, phase)),
    EpochLog(os.path.join(model_run_dir, TRAINING_LOG), train_images, phase, epochs),
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
