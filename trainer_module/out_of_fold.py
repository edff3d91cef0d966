"""LabelIssues' run_fn (pipeline.LABEL_ISSUES_FN): out-of-fold class probabilities of every
training image, in which reporting/label_issues.py looks for likely label errors.

A second TFX Trainer runs it on ImageExampleGen's raw examples (they keep each image's path;
Transform's output does not), decoded by Transform's own graph (TFTransformOutput's layer: the
arithmetic Transform applied). The train split is cut into K folds by class: the images in
class order, each class's in the order of the SHA-256 of their path, dealt round the folds in
turn (every fold gets its share of every class; the same files give the same folds). For each
fold, a model with the Trainer's settings (train.Fitting: the Tuner's values, class weights,
augmentation, an ensemble's members, early stopping on the eval split) is trained from scratch
on the other folds and scores the fold it never saw: from scratch, since the last blessed model
(the warm start's) saw every fold.

Written to its model run: out_of_fold.npz (each training image's path, label id, fold and
class probabilities), folds.json (per fold its images, held-out accuracy and seconds), and the
folds' training log and TensorBoard logs. Its Model output holds no model (TFX's Trainer wants
a folder there): a README.txt says where the probabilities are.
"""

import dataclasses
import hashlib
import io
import json
import os
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import keras
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tfx import v1 as tfx

from schemas import filenames
from schemas.features import FILE_NAME_KEY, IMAGE_XF, LABEL_KEY, LABEL_XF
from schemas.nodes import LABEL_ISSUES
from schemas.settings import LABEL_ISSUE_FOLDS_KEY
from trainer_module import augmentation, cache, class_weights, datasets, distribution, labels
from trainer_module.config import TrainingConfig
from trainer_module.train import Fitting, hyperparameters

README = (
  "LabelIssues trains no model to serve. The out-of-fold probabilities of the training images "
  f"are in its model run: {filenames.OUT_OF_FOLD} and {filenames.FOLDS_REPORT}.\n"
)


def _digest(path: bytes) -> str:
  return hashlib.sha256(path).hexdigest()


def assign_folds(paths: Sequence[bytes], label_ids: Sequence[int], folds: int) -> np.ndarray:
  """Each image's fold (0 to folds - 1): the images in class order, each class's in the order
  of the SHA-256 of their path, dealt round the folds in turn. Every fold gets its share of
  every class (one more or less), and the same files get the same folds on every run."""
  order = sorted(range(len(paths)), key=lambda i: (int(label_ids[i]), _digest(paths[i])))
  assigned = np.zeros(len(paths), np.int64)
  assigned[order] = np.arange(len(paths)) % folds
  return assigned


def _files(patterns: List[str]) -> List[str]:
  return sorted(path for pattern in patterns for path in tf.io.gfile.glob(pattern))


def _paths_and_labels(files: List[str], class_names: List[str]) -> Tuple[List[bytes], np.ndarray]:
  """Every raw example's path (bytes, as recorded) and label id, in the files' order."""
  spec = {
    FILE_NAME_KEY: tf.io.FixedLenFeature([], tf.string),
    LABEL_KEY: tf.io.FixedLenFeature([], tf.string),
  }
  ids = {name.encode(): i for i, name in enumerate(class_names)}
  paths, label_ids = [], []
  records = tf.data.TFRecordDataset(files, compression_type="GZIP").batch(1024)
  for batch in records.map(lambda serialized: tf.io.parse_example(serialized, spec)):
    paths += batch[FILE_NAME_KEY].numpy().tolist()
    label_ids += [ids.get(label, -1) for label in batch[LABEL_KEY].numpy().tolist()]
  return paths, np.array(label_ids, np.int64)


def through_transform(
  files: List[str], tf_transform_output: tft.TFTransformOutput, batch_size: int
) -> tf.data.Dataset:
  """Raw examples as (features {image_xf, file_name}, label id) batches: Transform's graph
  applied to them, each image's path kept."""
  # file_name is DEBUG_ONLY in the schema (no statistics, no validation), so not in its spec.
  spec = {
    **tf_transform_output.raw_feature_spec(),
    FILE_NAME_KEY: tf.io.FixedLenFeature([1], tf.string),
  }
  layer = tf_transform_output.transform_features_layer()

  def transform(serialized):
    raw = tf.io.parse_example(serialized, spec)
    path = tf.reshape(raw.pop(FILE_NAME_KEY), [-1])  # Transform's layer takes its own features
    transformed = layer(raw)
    return {IMAGE_XF: transformed[IMAGE_XF], FILE_NAME_KEY: path}, transformed[LABEL_XF]

  records = tf.data.TFRecordDataset(files, compression_type="GZIP")
  return records.batch(batch_size).map(transform, num_parallel_calls=tf.data.AUTOTUNE)


def _image_only(features, label):
  return {IMAGE_XF: features[IMAGE_XF]}, label


def _fold_filter(table: tf.lookup.StaticHashTable, fold: int, held_out: bool):
  """A filter keeping the examples of `fold` (held_out) or those of the other folds."""

  def keep(features, _):
    return tf.equal(tf.equal(table.lookup(features[FILE_NAME_KEY]), fold), held_out)

  return keep


def run_fn(fn_args: tfx.components.FnArgs) -> None:
  """Called by the TFX Trainer with ImageExampleGen's examples and Transform's graph: the
  training settings and LABEL_ISSUE_FOLDS_KEY in custom_config."""
  settings = dict(fn_args.custom_config)
  folds = int(settings.pop(LABEL_ISSUE_FOLDS_KEY))
  config = TrainingConfig.from_custom_config(settings)
  strategy, _ = distribution.choose_strategy(config.mixed_precision)  # before any other TF op
  with distribution.writable_dirs(strategy, fn_args.model_run_dir, fn_args.serving_model_dir) as (
    model_run_dir,
    serving_model_dir,
  ):
    _out_of_fold(fn_args, config, folds, strategy, model_run_dir)
    tf.io.gfile.makedirs(serving_model_dir)
    with tf.io.gfile.GFile(os.path.join(serving_model_dir, "README.txt"), "w") as f:
      f.write(README)
  distribution.barrier(strategy)


@dataclasses.dataclass
class _Folds:
  """What every fold model shares: the examples (cached once), their folds, the settings and
  where each held-out image's probabilities go."""

  config: TrainingConfig
  strategy: tf.distribute.Strategy
  output: tft.TFTransformOutput
  hp: Dict[str, Any]
  weights: Optional[Dict[int, float]]
  log_dir: str
  shape: List[int]
  batch: int
  one_hot: Optional[int]
  everything: tf.data.Dataset
  evaluation: tf.data.Dataset
  table: tf.lookup.StaticHashTable
  fold_of: np.ndarray
  index: Dict[bytes, int]
  probabilities: np.ndarray

  def run(self, fold: int) -> Dict[str, Any]:
    """Trains fold `fold`'s model on the other folds and scores its held-out images; the
    fold's figures."""
    started = time.monotonic()
    config = self.config
    trained_on = int(np.sum(self.fold_of != fold))
    train = datasets.batches(
      self.everything.filter(_fold_filter(self.table, fold, False))
      .map(_image_only)
      .batch(self.batch),
      self.shape,
      self.batch,
      training=True,
      augmenter=augmentation.build_augmenter(config.augment, config.seed),
      seed=config.seed,
      images=trained_on,
      num_classes=self.one_hot,
    )
    keras.utils.set_random_seed(config.seed)
    fitting = Fitting(
      config,
      self.hp,
      self.strategy,
      train,
      self.evaluation,
      trained_on,
      self.weights,
      self.log_dir,
      LABEL_ISSUES,
    )
    model = fitting.from_scratch(self.output, prefix=f"fold_{fold + 1}_")
    held_out = datasets.batches(
      self.everything.filter(_fold_filter(self.table, fold, True)).batch(self.batch),
      self.shape,
      self.batch,
      training=False,
    )
    right = 0
    for features, label in held_out:
      scores = keras.ops.convert_to_numpy(model({IMAGE_XF: features[IMAGE_XF]}, training=False))
      rows = [self.index[path] for path in features[FILE_NAME_KEY].numpy().tolist()]
      self.probabilities[rows] = scores
      right += int(np.sum(scores.argmax(axis=1) == label.numpy()))
    held = len(self.fold_of) - trained_on
    return {
      "fold": fold + 1,
      "trained_on": trained_on,
      "held_out": held,
      "accuracy": round(right / max(held, 1), 4),
      "seconds": round(time.monotonic() - started, 1),
    }


def _out_of_fold(
  fn_args: tfx.components.FnArgs,
  config: TrainingConfig,
  folds: int,
  strategy: tf.distribute.Strategy,
  model_run_dir: str,
) -> None:
  """Trains a model per fold and writes the held-out folds' probabilities to model_run_dir."""
  started = time.monotonic()
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_graph_path)
  shape = datasets.image_shape(tf_transform_output)
  class_names = labels.from_transform(tf_transform_output)
  batch = config.batch_size * strategy.num_replicas_in_sync
  train_files, eval_files = _files(fn_args.train_files), _files(fn_args.eval_files)
  paths, label_ids = _paths_and_labels(train_files, class_names)
  fold_of = assign_folds(paths, label_ids, folds)
  print(
    f"[{LABEL_ISSUES}] {folds} folds of {len(paths)} training images: a model per fold, "
    "trained from scratch with the Trainer's settings on the others, scores it",
    flush=True,
  )
  cache_dir = os.path.join(model_run_dir, "cache")
  images = {"train": len(paths), "eval": datasets.count_records(eval_files)}
  caches, choice = cache.choose(config.cache, images, shape, cache_dir, stage=LABEL_ISSUES)
  print(choice, flush=True)
  if any(c not in ("memory", "none") for c in caches.values()):
    tf.io.gfile.makedirs(cache_dir)
  one_hot = datasets.one_hot_classes(config, tf_transform_output)  # as the Trainer's labels
  per_fold: List[Dict[str, Any]] = []
  try:
    shared = _Folds(
      config=config,
      strategy=strategy,
      output=tf_transform_output,
      hp=hyperparameters(fn_args, config),
      weights=class_weights.class_weights(
        class_weights.label_counts(tf_transform_output), config.class_weights
      ),
      log_dir=model_run_dir,
      shape=shape,
      batch=batch,
      one_hot=one_hot,
      everything=datasets.cached(
        through_transform(train_files, tf_transform_output, batch).unbatch(), caches["train"]
      ),
      evaluation=datasets.batches(
        datasets.cached(
          through_transform(eval_files, tf_transform_output, batch).map(_image_only),
          caches["eval"],
        ),
        shape,
        batch,
        training=False,
        images=images["eval"],
        num_classes=one_hot,
      ),
      table=tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
          tf.constant(paths, tf.string), tf.constant(fold_of, tf.int64)
        ),
        default_value=-1,
      ),
      fold_of=fold_of,
      index={path: i for i, path in enumerate(paths)},
      probabilities=np.zeros((len(paths), len(class_names)), np.float32),
    )
    for fold in range(folds):
      per_fold.append(shared.run(fold))
      print(
        f"[{LABEL_ISSUES}] fold {fold + 1}/{folds}: trained on {per_fold[-1]['trained_on']} "
        f"images, {per_fold[-1]['held_out']} held out: accuracy "
        f"{per_fold[-1]['accuracy']:.4f} ({per_fold[-1]['seconds']:.1f} s)",
        flush=True,
      )
  finally:
    if tf.io.gfile.exists(cache_dir):  # as large as the data: not kept with the run's logs
      tf.io.gfile.rmtree(cache_dir)
  probabilities = shared.probabilities
  accuracy = float(np.mean(probabilities.argmax(axis=1) == label_ids)) if len(paths) else 0.0
  write(model_run_dir, paths, label_ids, fold_of, probabilities)
  report = {
    "folds": folds,
    "images": len(paths),
    "accuracy": round(accuracy, 4),
    "class_names": class_names,
    "per_fold": per_fold,
    "seconds": round(time.monotonic() - started, 1),
  }
  with tf.io.gfile.GFile(os.path.join(model_run_dir, filenames.FOLDS_REPORT), "w") as f:
    json.dump(report, f, indent=1)
  print(
    f"[{LABEL_ISSUES}] out-of-fold accuracy {accuracy:.4f} on {len(paths)} training images",
    flush=True,
  )


def write(model_run_dir: str, paths, label_ids, fold_of, probabilities) -> None:
  """out_of_fold.npz: path (text; bytes that are not UTF-8 as surrogate escapes, as the
  records' reader gives them), label (id), fold (from 1) and probabilities [n, classes]."""
  buffer = io.BytesIO()  # a zip file is written with seeks, which a GFile (gs://) has not
  np.savez(
    buffer,
    path=np.array([p.decode("utf-8", "surrogateescape") for p in paths], dtype=str),
    label=label_ids,
    fold=fold_of + 1,
    probabilities=probabilities,
  )
  with tf.io.gfile.GFile(os.path.join(model_run_dir, filenames.OUT_OF_FOLD), "wb") as f:
    f.write(buffer.getvalue())
