"""Picks the tf.distribute strategy and the Keras precision policy for the devices present, and
where this worker writes when several train together.

Several workers: TF_CONFIG (as Vertex AI training and Kubeflow's TFJob set it) names more than
one chief/worker task; they train under MultiWorkerMirroredStrategy. The chief (task "chief", or
worker 0 when there is none) writes the model and the logs; the others write theirs to a
temporary folder of their own, deleted afterwards (Keras' multi-worker pattern: every worker
saves, since saving may need the others, but only the chief's copy is kept).
"""

import contextlib
import json
import os
import shutil
import tempfile
from typing import Iterator, Optional, Tuple

import keras
import tensorflow as tf
from absl import logging

TRAINING_TASKS = ("chief", "worker")  # TF_CONFIG task types that train (not ps, evaluator)


def training_tasks(tf_config: Optional[str]) -> int:
  """The number of chief and worker tasks in a TF_CONFIG value (0 without one)."""
  if not tf_config:
    return 0
  try:
    cluster = json.loads(tf_config).get("cluster") or {}
  except (ValueError, AttributeError) as e:
    raise ValueError(f"TF_CONFIG is not a JSON object with a 'cluster': {tf_config!r}") from e
  return sum(len(cluster.get(kind) or []) for kind in TRAINING_TASKS)


def strategy_kind(tpu: bool, gpus: int, workers: int = 1) -> str:
  """Several workers: MultiWorkerMirroredStrategy; else TPU when present, MirroredStrategy for
  several GPUs, the default strategy otherwise."""
  if workers > 1:
    return "multi_worker"
  if tpu:
    return "tpu"
  return "mirrored" if gpus > 1 else "default"


def precision_policy(kind: str, gpus: int, mixed_precision: str = "auto") -> str:
  """Mixed precision where the hardware gains from it (float16 on GPUs, bfloat16 on TPUs),
  unless `mixed_precision` is "off"."""
  if mixed_precision == "off":
    return "float32"
  if kind == "tpu":
    return "mixed_bfloat16"
  return "mixed_float16" if gpus else "float32"


def is_chief(task_type: Optional[str], task_id: Optional[int], has_chief: bool) -> bool:
  """The task that writes: "chief", else worker 0 when the cluster has no chief; a process
  outside a cluster (no task type) is its own chief."""
  if not task_type:
    return True
  return task_type == "chief" or (task_type == "worker" and task_id == 0 and not has_chief)


def strategy_is_chief(strategy: tf.distribute.Strategy) -> bool:
  """Whether this process writes the model and logs for `strategy`'s cluster."""
  if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
    return True
  resolver = strategy.cluster_resolver
  return is_chief(resolver.task_type, resolver.task_id, "chief" in resolver.cluster_spec().jobs)


@contextlib.contextmanager
def writable_dirs(strategy: tf.distribute.Strategy, *dirs: str) -> Iterator[Tuple[str, ...]]:
  """`dirs` on the chief; on another worker, as many fresh folders of its own, deleted on exit
  (whatever the training did), so that it writes nothing shared."""
  if strategy_is_chief(strategy):
    yield dirs
    return
  resolver = strategy.cluster_resolver
  temp = tempfile.mkdtemp(prefix=f"{resolver.task_type}{resolver.task_id}_")
  mine = tuple(os.path.join(temp, str(i)) for i in range(len(dirs)))
  for path in mine:
    os.makedirs(path)
  try:
    yield mine
  finally:
    shutil.rmtree(temp, ignore_errors=True)


def barrier(strategy: tf.distribute.Strategy) -> None:
  """Returns once every worker has reached it (an all-reduce): a worker leaves after the chief
  saved, so the Trainer's check that the model exists passes on every worker."""
  if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
    one = tf.constant(1.0)
    total = strategy.run(
      tf.function(
        lambda: tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, one)
      )
    )
    for value in strategy.experimental_local_results(total):
      value.numpy()  # waits for the all-reduce


def prepare_fit(model: keras.Model, dataset: tf.data.Dataset, strategy: tf.distribute.Strategy):
  """Lets Keras 3's fit run under MultiWorkerMirroredStrategy (keras-team/keras#20585, open):
  fit builds the model from a batch it averages with strategy.reduce, which refuses nested
  batches across workers, so the model is built here from a local batch; and it averages each
  step's metrics with an axis scalars lack, so the first replica's value is taken instead (the
  same on all: Keras' metric variables are summed across replicas as they are updated). Call it
  before each fit; a no-op under other strategies."""
  if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
    return
  # Keras private API (keras-team/keras#20585: fit does not run under this strategy); the
  # two-worker test fails if it changes.
  from keras.src.backend.tensorflow import trainer  # noqa: PLC0415  (Keras' private trainer)

  batch = next(iter(dataset.take(1)))
  with strategy.scope():
    model._symbolic_build(data_batch=batch)  # noqa: SLF001  (Keras private: no public API)
  model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None  # noqa: SLF001
  if not getattr(trainer.reduce_per_replica, "first_across_workers", False):
    reduce = trainer.reduce_per_replica

    def first_across_workers(values, strategy, reduction):
      if reduction in ("auto", "mean") and isinstance(
        strategy, tf.distribute.MultiWorkerMirroredStrategy
      ):
        reduction = "first"
      return reduce(values, strategy, reduction)

    first_across_workers.first_across_workers = True
    trainer.reduce_per_replica = first_across_workers  # no public API: fit calls this module's


def _tpu_resolver():
  """A resolver for a Cloud TPU (TPU VM or TPU_NAME set), else None; never probes the network."""
  if not (os.environ.get("TPU_NAME") or tf.config.list_logical_devices("TPU")):
    return None
  try:
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(os.environ.get("TPU_NAME", ""))
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return resolver
  except (ValueError, tf.errors.OpError) as e:
    logging.warning("TPU not usable, falling back: %s", e)
    return None


def choose_strategy(mixed_precision: str = "auto") -> Tuple[tf.distribute.Strategy, str]:
  """(strategy, kind) for this machine and TF_CONFIG's cluster; also sets Keras' global
  precision policy ("auto" or "off", TrainingConfig.mixed_precision).

  Call it before any other TensorFlow op of the process: MultiWorkerMirroredStrategy can set up
  its collective ops only before TensorFlow's runtime starts."""
  workers = training_tasks(os.environ.get("TF_CONFIG"))
  if workers > 1:
    strategy, resolver = tf.distribute.MultiWorkerMirroredStrategy(), None
  else:
    strategy, resolver = None, _tpu_resolver()
  gpus = len(tf.config.list_logical_devices("GPU"))
  kind = strategy_kind(resolver is not None, gpus, workers)
  if kind == "tpu":
    strategy = tf.distribute.TPUStrategy(resolver)
  elif kind == "mirrored":
    strategy = tf.distribute.MirroredStrategy()
  elif kind == "default":
    strategy = tf.distribute.get_strategy()
  policy = precision_policy(kind, gpus, mixed_precision)
  keras.mixed_precision.set_global_policy(policy)
  logging.info(
    "Training with %s strategy on %d replica(s), %s", kind, strategy.num_replicas_in_sync, policy
  )
  return strategy, kind
