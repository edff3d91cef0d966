"""Two workers train one model on loopback (MultiWorkerMirroredStrategy, TF_CONFIG as Vertex AI
sets it): the chief alone writes the model and logs, and the Evaluator blesses that model."""

import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from tfx.types import standard_artifacts

from tests import evaluator, images, training
from tests.runs import ROOT

pytestmark = pytest.mark.integration  # Beam, TFX executors, training and subprocesses

CONFIG = {"model": "cnn", "epochs": 3, "batch_size": 16, "learning_rate": 3e-3, "width": 16}
TIMEOUT = 180  # seconds: a collective waiting for a worker that died must not hang the tests


def _free_ports(count):
  sockets = [socket.socket() for _ in range(count)]
  for s in sockets:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def _start_workers(transformed, graph, tmp_path, count=2):
  """Worker processes 0..count-1, each with its own output and temporary folders."""
  cluster = {"worker": [f"localhost:{port}" for port in _free_ports(count)]}
  processes = []
  for index in range(count):
    out, temp = tmp_path / f"out{index}", tmp_path / f"tmp{index}"
    for folder in (out / "model", out / "model_run", temp):  # as the Trainer creates them
      folder.mkdir(parents=True)
    env = {
      **os.environ,
      "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
      "TMPDIR": str(temp),
    }
    args = [transformed.uri, transformed.split_names, graph.uri, str(out), json.dumps(CONFIG)]
    with open(tmp_path / f"worker{index}.log", "w") as log:
      processes.append(
        subprocess.Popen(
          [sys.executable, "-m", "tests.worker", *args],
          cwd=ROOT,
          env=env,
          stdout=log,
          stderr=subprocess.STDOUT,
        )
      )
  return processes


def _wait(processes):
  """Every worker's exit status (None: still running after TIMEOUT); once one fails or time is
  up, the others are killed (they would wait for it in a collective)."""
  deadline = time.monotonic() + TIMEOUT
  try:
    while any(p.poll() is None for p in processes) and time.monotonic() < deadline:
      if any(p.poll() not in (None, 0) for p in processes):
        break
      time.sleep(0.5)
    return [p.poll() for p in processes]
  finally:
    for p in processes:
      if p.poll() is None:
        p.kill()
        p.wait()


def _files(folder):
  return sorted(
    os.path.relpath(os.path.join(d, f), folder) for d, _, fs in os.walk(folder) for f in fs
  )


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
  """(raw Examples, transformed Examples, TransformGraph) of 40 real digits a class at 16x16."""
  work = str(tmp_path_factory.mktemp("digits"))
  data_dir = training.digits_tree(os.path.join(work, "digits"), {d: 40 for d in range(10)})
  examples = training.ingest(data_dir, work)
  return (examples, *training.transform(examples, work, image_size=16, channels=1))


def test_two_workers_train_one_model_the_chief_alone_writes_and_the_evaluator_blesses(
  digits, tmp_path
):
  examples, transformed, graph = digits
  codes = _wait(_start_workers(transformed, graph, tmp_path))
  logs = [(tmp_path / f"worker{i}.log").read_text() for i in range(2)]
  assert codes == [0, 0], logs[0][-3000:] + logs[1][-3000:]
  # Worker 1 wrote nothing: not in its outputs, nor a temporary folder left behind.
  chief, worker = tmp_path / "out0", tmp_path / "out1"
  assert _files(worker) == [] and os.listdir(tmp_path / "tmp1") == []
  # The chief's model run: one record an epoch, and the global batch of the two replicas the
  # workers trained as (one strategy across both processes).
  model_run = standard_artifacts.ModelRun()
  model_run.uri = str(chief / "model_run")
  assert [e["epoch"] for e in training.training_log(model_run)] == [1, 2, 3]
  with open(chief / "model_run" / "training_settings.json") as f:
    assert json.load(f)["batch_size"] == 2 * CONFIG["batch_size"]
  assert "model.keras" in os.listdir(chief / "model_run")
  # The chief's SavedModel serves real digits it never saw better than chance.
  model = standard_artifacts.Model()
  model.uri = str(chief / "model")
  loaded, _ = training.assert_serves_digits(model)
  unseen = images.digit_pixels(1797)[-200:]
  out = loaded.signatures["serving_default"](
    image_bytes=tf.constant([images.encode(p, "png") for p, _ in unseen])
  )
  predicted = [int(c) for c in out["classes"].numpy()]
  assert np.mean(np.array(predicted) == [d for _, d in unseen]) > 0.3
  _, blessing = evaluator.evaluate(examples, model, tmp_path / "evaluation", accuracy_threshold=0.3)
  assert blessing.get_int_custom_property("blessed") == 1
