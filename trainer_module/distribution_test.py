"""Strategy and precision choice, for whatever devices this machine has."""

import json

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
  assert distribution.precision_policy(kind, gpus, "off") == "float32"


def _tf_config(cluster, task_type="worker", index=0):
  return json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}})


@pytest.mark.parametrize(
  "cluster,tasks",
  [
    ({"worker": ["a:1"]}, 1),
    ({"worker": ["a:1", "b:1"]}, 2),
    ({"chief": ["a:1"], "worker": ["b:1", "c:1"], "ps": ["d:1"], "evaluator": ["e:1"]}, 3),
  ],
)
def test_several_training_tasks_in_tf_config_take_the_multi_worker_strategy(cluster, tasks):
  assert distribution.training_tasks(_tf_config(cluster)) == tasks
  kind = distribution.strategy_kind(False, 0, tasks)
  assert kind == ("multi_worker" if tasks > 1 else "default")
  assert distribution.precision_policy(kind, 0) == "float32"
  assert distribution.precision_policy(kind, 1) == "mixed_float16"


def test_no_or_a_bad_tf_config():
  assert distribution.training_tasks(None) == distribution.training_tasks("") == 0
  with pytest.raises(ValueError, match="TF_CONFIG is not a JSON object"):
    distribution.training_tasks("worker:0")


@pytest.mark.parametrize(
  "task_type,task_id,has_chief,chief",
  [
    ("chief", 0, True, True),
    ("worker", 0, True, False),
    ("worker", 0, False, True),
    ("worker", 1, False, False),
    ("evaluator", 0, True, False),
    (None, None, False, True),
  ],
)
def test_the_chief_is_the_chief_task_else_worker_0(task_type, task_id, has_chief, chief):
  assert distribution.is_chief(task_type, task_id, has_chief) is chief


def test_outside_a_cluster_the_process_writes_where_it_is_told(tmp_path):
  strategy = tf.distribute.get_strategy()
  assert distribution.strategy_is_chief(strategy)
  with distribution.writable_dirs(strategy, "gs://b/run", str(tmp_path)) as dirs:
    assert dirs == ("gs://b/run", str(tmp_path))
  distribution.barrier(strategy)  # nothing to wait for


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
  monkeypatch.delenv("TF_CONFIG", raising=False)
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
  monkeypatch.delenv("TF_CONFIG", raising=False)
  strategy, kind = distribution.choose_strategy()
  assert kind == "default" and strategy is tf.distribute.get_strategy()
  assert keras.mixed_precision.global_policy().name == "mixed_float16"
  distribution.choose_strategy("off")
  assert keras.mixed_precision.global_policy().name == "float32"
