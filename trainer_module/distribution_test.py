"""Strategy and precision choice, for whatever devices this machine has."""

import keras
import pytest
import tensorflow as tf

from trainer_module import distribution


@pytest.mark.parametrize(
  "tpu,gpus,kind,policy",
  [
    (False, 0, "default", "float32"),
    (False, 1, "default", "mixed_float16"),
    (False, 4, "mirrored", "mixed_float16"),
    (True, 0, "tpu", "mixed_bfloat16"),
  ],
)
def test_strategy_and_precision_follow_the_devices(tpu, gpus, kind, policy):
  assert distribution.strategy_kind(tpu, gpus) == kind
  assert distribution.precision_policy(kind, gpus) == policy


@pytest.fixture
def global_policy():
  """choose_strategy sets Keras' global precision policy for the whole process: the test
  leaves it as it found it, whatever it chose or however it failed."""
  before = keras.mixed_precision.global_policy()
  try:
    yield before
  finally:
    keras.mixed_precision.set_global_policy(before)


def test_this_machine_gets_the_strategy_and_policy_its_devices_call_for(monkeypatch, global_policy):
  monkeypatch.delenv("TPU_NAME", raising=False)
  tpus = tf.config.list_logical_devices("TPU")
  gpus = len(tf.config.list_logical_devices("GPU"))
  # A policy no device gets: choose_strategy must set the one it reports, not find it set.
  keras.mixed_precision.set_global_policy("float64")
  strategy, kind = distribution.choose_strategy()
  policy = keras.mixed_precision.global_policy().name
  if tpus:
    assert (kind, policy) == ("tpu", "mixed_bfloat16")
    assert isinstance(strategy, tf.distribute.TPUStrategy)
  elif gpus > 1:
    assert (kind, policy) == ("mirrored", "mixed_float16")
    assert isinstance(strategy, tf.distribute.MirroredStrategy)
    assert strategy.num_replicas_in_sync == gpus
  else:  # one GPU, or the CPU
    assert (kind, policy) == ("default", "mixed_float16" if gpus else "float32")
    assert strategy is tf.distribute.get_strategy()
    assert strategy.num_replicas_in_sync == 1


def test_one_gpu_reported_gets_mixed_float16_on_the_default_strategy(monkeypatch, global_policy):
  # As tf.config would report a one-GPU machine (the branch a CPU machine cannot take).
  listed = tf.config.list_logical_devices
  if listed("TPU"):
    pytest.skip("a TPU machine takes the TPU branch whatever GPUs it reports")
  monkeypatch.setattr(
    tf.config,
    "list_logical_devices",
    lambda kind=None: (
      [tf.config.LogicalDevice("/device:GPU:0", "GPU")] if kind == "GPU" else listed(kind)
    ),
  )
  monkeypatch.delenv("TPU_NAME", raising=False)
  strategy, kind = distribution.choose_strategy()
  assert kind == "default" and strategy is tf.distribute.get_strategy()
  assert keras.mixed_precision.global_policy().name == "mixed_float16"
