"""Strategy and precision choice; on this CPU machine the default strategy in float32."""

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


def test_cpu_gets_the_default_strategy_in_float32(monkeypatch):
  monkeypatch.delenv("TPU_NAME", raising=False)
  strategy, kind = distribution.choose_strategy()
  assert kind == "default"
  assert strategy is tf.distribute.get_strategy()
  assert strategy.num_replicas_in_sync == 1
  assert keras.mixed_precision.global_policy().name == "float32"
