"""Picks the tf.distribute strategy and the Keras precision policy for the devices present."""

import os
from typing import Tuple

import keras
import tensorflow as tf
from absl import logging


def strategy_kind(tpu: bool, gpus: int) -> str:
  """TPU when present, MirroredStrategy for several GPUs, the default strategy otherwise."""
  if tpu:
    return "tpu"
  return "mirrored" if gpus > 1 else "default"


def precision_policy(kind: str, gpus: int) -> str:
  """Mixed precision where the hardware gains from it: float16 on GPUs, bfloat16 on TPUs."""
  if kind == "tpu":
    return "mixed_bfloat16"
  return "mixed_float16" if gpus else "float32"


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


def choose_strategy() -> Tuple[tf.distribute.Strategy, str]:
  """(strategy, kind) for this machine; also sets Keras' global precision policy."""
  resolver = _tpu_resolver()
  gpus = len(tf.config.list_logical_devices("GPU"))
  kind = strategy_kind(resolver is not None, gpus)
  if kind == "tpu":
    strategy = tf.distribute.TPUStrategy(resolver)
  elif kind == "mirrored":
    strategy = tf.distribute.MirroredStrategy()
  else:
    strategy = tf.distribute.get_strategy()
  policy = precision_policy(kind, gpus)
  keras.mixed_precision.set_global_policy(policy)
  logging.info(
    "Training with %s strategy on %d replica(s), %s", kind, strategy.num_replicas_in_sync, policy
  )
  return strategy, kind
