"""`--ensemble 2` on a few hundred digits: one served model averaging two CNNs, its three
signatures, warmup, serving check and int8 TFLite export as for a single model, and each
member's accuracy beside the ensemble's on the gated (test) split, recomputed here."""

import base64
import csv
import hashlib
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from components import warmup
from components.serving_check import executor as serving_check
from schemas.features import IMAGE_XF
from tests import images, records, runs
from trainer_module import contract, ensemble, reference_preprocess

pytestmark = pytest.mark.e2e

FLAGS = (
  "--ensemble", "2",
  "--seed", "3",
  "--epochs", "6",
  "--image-size", "16",
  "--splits", "train=6,eval=2,test=2",
  "--accuracy-threshold", "0.5",
  "--min-class-recall", "0",
  "--min-class-precision", "0",
)  # fmt: skip


@pytest.fixture(scope="module")
def ensemble_run(tmp_path_factory):
  data_dir = str(tmp_path_factory.mktemp("data") / "digits")
  images.write_tree(data_dir, images.digit_files({d: 40 for d in range(10)}))
  output_dir = str(tmp_path_factory.mktemp("out"))
  result, summary = runs.run_local(data_dir, output_dir, "ensemble-e2e", *FLAGS)
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  return data_dir, output_dir, result, summary


def _gated_rows(summary):
  with open(os.path.join(summary["report_dir"], "predictions.csv"), newline="") as f:
    return list(csv.DictReader(f))


def test_one_served_model_answers_on_its_signatures(ensemble_run):
  data_dir, output_dir, result, summary = ensemble_run
  versions = [v for v in os.listdir(os.path.join(output_dir, "serving_model")) if v.isdigit()]
  assert versions == [summary["pushed_version"]]
  served = summary["pushed_model_path"]
  model = tf.saved_model.load(served)
  assert set(model.signatures) == {
    "serving_default",
    "serving_pixels",
    "serving_examples",
    "transform_features",
    "bulk_inference",
  }
  # The gated split's examples as ImageExampleGen wrote them (what the Evaluator feeds).
  found = records.split_examples(summary["examples_path"], "test")[:12]
  data = [records.feature(e, "image") for e in found]
  predicted = {r["sha256"]: r["predicted_class"] for r in _gated_rows(summary)}
  # serving_default as TF Serving's REST API calls it: each {"b64": ...} decoded to bytes.
  body = json.dumps({"instances": [{"b64": base64.b64encode(d).decode()} for d in data]})
  instances = [base64.b64decode(i["b64"]) for i in json.loads(body)["instances"]]
  by_bytes = model.signatures["serving_default"](image_bytes=tf.constant(instances))
  serving_check.check_outputs(by_bytes, len(data))
  assert [c.decode() for c in by_bytes["classes"].numpy()] == [
    predicted[hashlib.sha256(d).hexdigest()] for d in data
  ]
  serialized = tf.constant([e.SerializeToString() for e in found])
  by_example = model.signatures["serving_examples"](examples=serialized)
  np.testing.assert_allclose(by_example["probabilities"], by_bytes["probabilities"], atol=1e-5)
  bulk = model.signatures["bulk_inference"](examples=serialized)
  np.testing.assert_allclose(bulk["probabilities"], by_bytes["probabilities"], atol=1e-5)
  transformed = model.signatures["transform_features"](examples=serialized)
  classes = summary["classes"]
  assert [classes[i] for i in np.ravel(transformed["label_xf"])] == [
    records.feature(e, "label").decode() for e in found
  ]
  # The served probabilities are the mean of the two members' (kept in assets.extra/model.keras).
  keras_model = contract.load_keras_model(served)
  members = ensemble.member_models(keras_model)
  assert [m.name for m in members] == ["member_1", "member_2"]
  spec = contract.read_contract(served)
  pixels = np.stack([reference_preprocess.preprocess(d, spec) for d in data]).astype(np.float32)
  mean = np.mean([np.asarray(m({IMAGE_XF: pixels})) for m in members], axis=0)
  np.testing.assert_allclose(by_bytes["probabilities"], mean, atol=1e-5)
  # Warmup, the serving check and the int8 TFLite parity gate, as for a single model.
  assert summary["serving_check"]["blessed"] is True
  requests = warmup.read_warmup(os.path.join(served, "assets.extra", "tf_serving_warmup_requests"))
  assert len(requests) == 8 + 1
  tflite = summary["tflite"]
  assert tflite["passed"] is True, tflite["reason"]
  assert tflite["int8"]["agreement"] >= 0.98
  assert os.path.isfile(os.path.join(tflite["path"], "model_int8.tflite"))


def test_the_summary_lists_each_member_beside_the_ensemble_on_the_gated_split(ensemble_run):
  data_dir, output_dir, result, summary = ensemble_run
  block = summary["ensemble"]
  assert block["split"] == summary["metrics"]["split"] == "test"
  assert block["accuracy"] == summary["metrics"]["accuracy"]
  assert [(m["model"], m["seed"]) for m in block["members"]] == [("cnn", 3), ("cnn", 4)]
  rows = _gated_rows(summary)
  assert len(rows) == summary["metrics"]["examples"] == summary["splits"]["test"]
  truth = [r["true_class"] for r in rows]
  # The Evaluator's accuracy is the served ensemble's on these files.
  assert block["accuracy"] == pytest.approx(
    np.mean([r["predicted_class"] == t for r, t in zip(rows, truth)]), abs=1e-4
  )
  # Each member's, recomputed from the files with the contract's reference preprocessing.
  served = summary["pushed_model_path"]
  spec, classes = contract.read_contract(served), summary["classes"]
  pixels = np.stack(
    [reference_preprocess.preprocess(os.path.join(data_dir, r["path"]), spec) for r in rows]
  ).astype(np.float32)
  for member, listed in zip(
    ensemble.member_models(contract.load_keras_model(served)), block["members"]
  ):
    predicted = np.asarray(member({IMAGE_XF: pixels})).argmax(axis=1)
    accuracy = np.mean([classes[p] == t for p, t in zip(predicted, truth)])
    assert listed["accuracy"] == pytest.approx(accuracy, abs=1e-4)
    assert 0.2 < listed["accuracy"] <= 1.0  # trained (chance is 0.1)
  # The training log, the console and the model card.
  settings = summary["training"]["settings"]
  assert settings["model"] == "ensemble" and settings["ensemble"] == [
    {"model": "cnn", "seed": 3},
    {"model": "cnn", "seed": 4},
  ]
  phases = [e["phase"] for e in summary["training"]["epoch_log"]]
  assert set(phases) == {"member_1_train", "member_2_train"}
  # Epochs per member, counted from the training log (early stopping may end one sooner).
  per_member = [phases.count(f"member_{i}_train") for i in (1, 2)]
  assert summary["training"]["member_epochs"] == per_member
  assert [m["epochs"] for m in block["members"]] == per_member
  assert "[Trainer] ensemble member 2/2: cnn, seed 4" in result.stdout
  assert f"  ensemble of 2: {block['accuracy']:.4f} on test; members cnn (seed 3) " in result.stdout
  with open(os.path.join(summary["report_dir"], "model_card.md")) as f:
    card = f.read()
  assert "### Ensemble" in card
  assert f"| member 2: cnn | 4 | {per_member[1]} | {block['members'][1]['accuracy']:.4f} |" in card
  # A member better than the ensemble is named on the console and in the card; else no line.
  best = max(m["accuracy"] for m in block["members"])
  assert (best > block["accuracy"]) == any(
    w.startswith("the ensemble (") for w in summary["warnings"]
  )
