"""The whole pipeline with LocalDagRunner on the digits tree, as a user runs it.

One module-scoped run (blessed, pushed) feeds the tests; two further runs in the same output dir
check the cache and an accuracy threshold that cannot be met.
"""

import base64
import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipeline.sample_data import export_digits
from tests import images

pytestmark = pytest.mark.e2e

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STAGES = ("ImageExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator", "Transform",
          "Trainer", "Evaluator", "Pusher")


def run_pipeline(data_dir, output_dir, *flags):
  result = subprocess.run(
      [sys.executable, "local_runner.py", "--data-dir", data_dir, "--output-dir", output_dir,
       "--pipeline-name", "digits-e2e", *flags],
      cwd=ROOT, capture_output=True, text=True, timeout=1200)
  with open(os.path.join(output_dir, "run_summary.json")) as f:
    return result, json.load(f)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
  """Digits plus three files that must be rejected, run once with default settings."""
  data_dir = export_digits(str(tmp_path_factory.mktemp("data") / "digits"))
  good = images.encode(images.digit_pixels(1)[0][0], "png")
  images.write_tree(data_dir, {"3/truncated.png": good[:40], "5/empty.jpg": b"",
                               "8/readme.txt": b"labels by hand"})
  output_dir = str(tmp_path_factory.mktemp("out"))
  result, summary = run_pipeline(data_dir, output_dir)
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  return data_dir, output_dir, result, summary


def eval_examples(output_dir):
  """(image bytes, label) of the eval split that ExampleGen wrote."""
  files = glob.glob(os.path.join(output_dir, "pipeline", "ImageExampleGen", "examples", "*",
                                 "Split-eval", "*"))
  examples = [tf.train.Example.FromString(r.numpy())
              for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]
  return [(e.features.feature["image"].bytes_list.value[0],
           e.features.feature["label"].bytes_list.value[0].decode()) for e in examples]


def latest_run_states(output_dir):
  """Component type -> execution state, for the latest pipeline run in MLMD."""
  connection = metadata_store_pb2.ConnectionConfig()
  connection.sqlite.filename_uri = os.path.join(output_dir, "metadata.db")
  store = metadata_store.MetadataStore(connection)
  run = max(store.get_contexts_by_type("pipeline_run"), key=lambda c: c.id)
  types = {t.id: t.name.rsplit(".", 1)[-1] for t in store.get_execution_types()}
  return {types[e.type_id]: metadata_store_pb2.Execution.State.Name(e.last_known_state)
          for e in store.get_executions_by_context(run.id)}


def test_blessed_pushed_and_every_file_accounted_for(first_run):
  data_dir, output_dir, result, summary = first_run
  assert summary["blessed"] is True
  assert os.path.isfile(os.path.join(summary["pushed_model_path"], "saved_model.pb"))
  assert os.path.dirname(summary["pushed_model_path"]) == os.path.join(output_dir, "serving_model")
  files = images.count_files(data_dir)
  assert files == 1797 + 3
  assert summary["images_ingested"] + sum(summary["images_rejected"].values()) == files
  assert summary["images_rejected"] == {"empty_file": 1, "not_an_image": 1, "truncated_file": 1}
  assert sum(summary["splits"].values()) == summary["images_ingested"] == 1797
  assert summary["splits"]["eval"] == len(eval_examples(output_dir))
  assert summary["anomalies"] == {"eval": {}, "train": {}}  # the curated schema fits the data
  assert summary["metrics"]["accuracy"] >= 0.8
  assert sorted(summary["metrics"]["per_class"]) == [str(d) for d in range(10)]
  assert all(m["recall"] >= 0.5 for m in summary["metrics"]["per_class"].values())
  assert set(STAGES) <= set(summary["stage_seconds"])
  assert "blessed: yes" in result.stdout


def test_pushed_model_classifies_raw_image_bytes(first_run):
  _, output_dir, _, summary = first_run
  model = tf.saved_model.load(summary["pushed_model_path"])
  serve = model.signatures["serving_default"]
  examples = eval_examples(output_dir)
  predicted = []
  for start in range(0, len(examples), 64):
    batch = examples[start:start + 64]
    outputs = serve(image_bytes=tf.constant([data for data, _ in batch]))
    assert outputs["probabilities"].shape == (len(batch), 10)
    np.testing.assert_allclose(outputs["probabilities"].numpy().sum(axis=1), 1.0, rtol=1e-4)
    predicted += [c.decode() for c in outputs["classes"].numpy()]
  accuracy = np.mean([p == label for p, (_, label) in zip(predicted, examples)])
  assert accuracy > 0.8, accuracy  # chance is 0.1


def test_serving_accepts_the_rest_b64_shape_and_tf_examples_alike(first_run):
  _, output_dir, _, summary = first_run
  model = tf.saved_model.load(summary["pushed_model_path"])
  examples = eval_examples(output_dir)[:16]
  # What a REST client posts; TF Serving decodes each {"b64": ...} to bytes before the call.
  body = json.dumps({"instances": [{"b64": base64.b64encode(d).decode()} for d, _ in examples]})
  instances = [base64.b64decode(i["b64"]) for i in json.loads(body)["instances"]]
  from_rest = model.signatures["serving_default"](image_bytes=tf.constant(instances))
  serialized = [tf.train.Example(features=tf.train.Features(feature={
      "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[d]))})).SerializeToString()
                for d, _ in examples]
  from_examples = model.signatures["serving_examples"](examples=tf.constant(serialized))
  assert list(from_rest["classes"].numpy()) == list(from_examples["classes"].numpy())
  np.testing.assert_allclose(from_rest["probabilities"], from_examples["probabilities"],
                             atol=1e-5)
  assert [c.decode() for c in from_rest["class_names"][0].numpy()] == summary["classes"]


def test_second_run_reuses_the_cache(first_run):
  data_dir, output_dir, _, _ = first_run
  result, summary = run_pipeline(data_dir, output_dir)
  assert result.returncode == 0, result.stderr[-3000:]
  states = latest_run_states(output_dir)
  for stage in ("ImageExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator",
                "Transform", "Trainer"):
    assert states[stage] == "CACHED", (stage, states)
  assert summary["blessed"] is True


def test_unreachable_accuracy_threshold_exits_3_and_pushes_nothing(first_run):
  data_dir, output_dir, _, first = first_run
  assert first["metrics"]["accuracy"] < 1.0  # so a threshold of 1.0 cannot be met
  pushed_before = sorted(os.listdir(os.path.join(output_dir, "serving_model")))
  result, summary = run_pipeline(data_dir, output_dir, "--accuracy-threshold", "1.0")
  assert result.returncode == 3, result.stderr[-3000:]
  assert summary["blessed"] is False
  assert summary["pushed_model_path"] is None
  assert sorted(os.listdir(os.path.join(output_dir, "serving_model"))) == pushed_before
  assert any(g.startswith("sparse_categorical_accuracy") for g in summary["failed_gates"])
  assert "blessed: no" in result.stdout
