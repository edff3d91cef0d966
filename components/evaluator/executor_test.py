"""The Evaluator on real models trained on digits: per-class gates on top-1 predictions that
equal an independent confusion matrix, and a calibration equal to one counted from the model's
top probabilities; the served model as the baseline, left out when its classes differ or when
it is the candidate itself."""

import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
from tfx.types import standard_artifacts
from tfx.utils import path_utils

from components.evaluator import executor
from reporting import evaluation as results
from tests import evaluator, records, training
from trainer_module import labels

pytestmark = pytest.mark.integration  # Beam, TFX executors, training or subprocesses

CLASSES = [str(d) for d in range(10)]


def served_predictions(examples, model):
  """(true class, top-1 class, top probability) of every eval image, asked of the model's
  serving signature: an account independent of TFMA."""
  images, truth = zip(*records.images_and_labels(records.split_examples(examples.uri, "eval")))
  serve = training.load(model).signatures["serving_default"]
  outputs = serve(image_bytes=tf.constant(images))
  return (truth, [c.decode() for c in outputs["classes"].numpy()], outputs["probabilities"].numpy())


def test_per_class_figures_are_top1_and_equal_the_confusion_matrix(digits_model, tmp_path):
  examples, model, _ = digits_model  # 2 epochs on 40 images a class: a weak model
  evaluation, _ = evaluator.evaluate(examples, model, tmp_path)
  metrics = results.evaluation_metrics(evaluation.uri, CLASSES)
  truth, predicted, probabilities = served_predictions(examples, model)
  assert metrics["examples"] == len(truth)
  assert metrics["accuracy"] == pytest.approx(np.mean(np.array(truth) == predicted), abs=1e-4)
  assert metrics["confusion_matrix"]["classes"] == CLASSES
  one_vs_rest_differs = False
  for i, name in enumerate(CLASSES):
    is_class, said = np.array(truth) == name, np.array(predicted) == name
    images, hits = int(is_class.sum()), int((is_class & said).sum())
    figures = metrics["per_class"][name]
    assert figures["images"] == images == sum(metrics["confusion_matrix"]["counts"][i])
    assert figures["predicted"] == int(said.sum())
    assert figures["recall"] == pytest.approx(hits / images, abs=1e-4)
    assert figures["precision"] == pytest.approx(hits / said.sum() if said.sum() else 0.0, abs=1e-4)
    assert figures["never_predicted"] == (not said.any())
    low, high = figures["recall_95ci"]
    assert low <= figures["recall"] <= high
    # What a 0.5 cut-off per class would have said instead.
    one_vs_rest = ((probabilities[:, i] > 0.5) & is_class).sum() / images
    one_vs_rest_differs |= abs(one_vs_rest - figures["recall"]) > 0.1
  assert one_vs_rest_differs  # the model is unsure enough for the two to disagree
  # Top-5 accuracy (10 classes): how often the true class is among the 5 most probable.
  truth_ids = np.array([CLASSES.index(t) for t in truth])
  top5 = np.argsort(-probabilities, axis=1, kind="stable")[:, :5]
  in_top5 = np.mean([t in row for t, row in zip(truth_ids, top5)])
  assert metrics["top_5_accuracy"] == pytest.approx(in_top5, abs=1e-4)
  assert metrics["accuracy"] < metrics["top_5_accuracy"] < 1.0  # a weak model: both can fail
  # Calibration of the top probability: each bin's images, accuracy and mean top probability.
  top, hit = probabilities.max(axis=1), np.array(truth) == predicted
  bins = np.minimum((top * results.CALIBRATION_BINS).astype(int), results.CALIBRATION_BINS - 1)
  calibration, filled = metrics["calibration"], sorted(set(bins))
  assert [b["examples"] for b in calibration["bins"]] == [int((bins == i).sum()) for i in filled]
  for b, i in zip(calibration["bins"], filled):
    assert b["range"] == [i / results.CALIBRATION_BINS, (i + 1) / results.CALIBRATION_BINS]
    assert b["accuracy"] == pytest.approx(hit[bins == i].mean(), abs=1e-4)
    assert b["mean_confidence"] == pytest.approx(top[bins == i].mean(), abs=1e-4)
  assert calibration["mean_top_probability"] == pytest.approx(top.mean(), abs=1e-4)


def test_zero_bounds_bless_and_a_class_never_predicted_is_named(three_class_model, tmp_path):
  examples, model = three_class_model
  classes = CLASSES[:3]
  _, predicted, _ = served_predictions(examples, model)
  never = sorted(set(classes) - set(predicted))
  assert never, predicted  # the situation under test
  _, blessing = evaluator.evaluate(examples, model, tmp_path / "zero", num_classes=3)
  assert blessing.get_int_custom_property("blessed") == 1  # 0 bounds never fail, NaN or not
  evaluation, blessing = evaluator.evaluate(
    examples, model, tmp_path / "gated", num_classes=3, min_class_precision=0.01
  )
  assert blessing.get_int_custom_property("blessed") == 0
  failures = results.failed_gates(evaluation.uri, classes, "eval")
  assert sorted(failures) == sorted(f"precision of class {c} = 0 (never predicted)" for c in never)
  metrics = results.evaluation_metrics(evaluation.uri, classes)
  assert "top_5_accuracy" not in metrics  # 3 classes: top-5 means nothing
  assert [c for c in classes if metrics["per_class"][c]["never_predicted"]] == never
  assert all(metrics["per_class"][c]["precision"] == 0.0 for c in never)


@pytest.fixture(scope="module")
def three_class_model(tmp_path_factory):
  """A real model trained on three of the ten digits, barely (one epoch at a tiny rate, so it
  says the same class for most images): a baseline with other classes, and a model with
  classes it never predicts."""
  work = str(tmp_path_factory.mktemp("three_classes"))
  data_dir = training.digits_tree(os.path.join(work, "digits"), {0: 20, 1: 20, 2: 20})
  examples = training.ingest(data_dir, work)
  transformed, graph = training.transform(examples, work, 16, 1)
  model, _ = training.run_trainer(
    transformed,
    graph,
    work,
    {
      "model": "cnn",
      "epochs": 1,
      "batch_size": 32,
      "learning_rate": 1e-6,
      "width": 8,
    },
  )
  return examples, model


def test_a_served_model_with_other_classes_is_not_compared(
  digits_model, three_class_model, tmp_path
):
  examples, model, _ = digits_model
  _, other = three_class_model
  evaluation, blessing = evaluator.evaluate(
    examples, model, tmp_path, baseline=evaluator.served(other)
  )
  comparison = executor.read_comparison(evaluation.uri)
  assert comparison == {
    "baseline": other.uri,
    "version": "7",
    "model_uri": other.uri,
    "run_id": "run-0",
    "compared": False,
    "reason": "added 3, 4, 5, 6, 7, 8, 9",
  }
  assert blessing.get_int_custom_property("blessed") == 1  # judged on its thresholds alone
  metrics = results.evaluation_metrics(evaluation.uri, CLASSES)
  assert "baseline" not in metrics
  assert metrics["baseline_skipped"]["reason"] == comparison["reason"]


def test_the_served_model_is_compared_and_named_by_the_blessing(digits_model, tmp_path):
  """Another model artifact with the candidate's weights (a copy): compared, no change."""
  examples, model, _ = digits_model
  twin = standard_artifacts.Model()
  twin.uri = str(tmp_path / "twin")
  shutil.copytree(model.uri, twin.uri)
  evaluation, blessing = evaluator.evaluate(
    examples, model, tmp_path, baseline=evaluator.served(twin)
  )
  comparison = executor.read_comparison(evaluation.uri)
  assert (comparison["compared"], comparison["model_uri"]) == (True, twin.uri)
  metrics = results.evaluation_metrics(evaluation.uri, CLASSES)
  assert metrics["baseline"]["accuracy"] == metrics["accuracy"]
  assert metrics["baseline"]["accuracy_change"] == 0.0
  assert blessing.get_int_custom_property("baseline_model_id") == 42  # the push


def test_an_older_push_is_compared_through_its_own_copy_of_the_model(digits_model, tmp_path):
  """A push recorded before ServingPusher named its model: the pushed copy is the baseline."""
  examples, model, _ = digits_model
  copy = tmp_path / "pushed"
  shutil.copytree(path_utils.serving_model_path(model.uri), copy)
  older = evaluator.served(model, model_uri="", uri=str(copy))
  evaluation, _ = evaluator.evaluate(examples, model, tmp_path, baseline=older)
  assert executor.read_comparison(evaluation.uri)["compared"] is True
  metrics = results.evaluation_metrics(evaluation.uri, CLASSES)
  assert metrics["baseline"]["accuracy_change"] == 0.0


def test_the_candidate_is_never_compared_with_itself(digits_model, tmp_path):
  examples, model, _ = digits_model
  evaluation, blessing = evaluator.evaluate(
    examples, model, tmp_path, baseline=evaluator.served(model)
  )
  comparison = executor.read_comparison(evaluation.uri)
  assert (comparison["compared"], comparison["reason"]) == (
    False,
    "the candidate is the served model (version 7): not compared with itself",
  )
  assert not blessing.has_custom_property("baseline_model_id")
  assert "baseline" not in results.evaluation_metrics(evaluation.uri, CLASSES)


def test_nothing_served_yet_is_said():
  _, comparison = executor.served_baseline(standard_artifacts.Model(), None, "/tmp")
  assert comparison == {"baseline": None, "compared": False, "reason": "no model served yet"}


@pytest.mark.parametrize(
  "candidate, baseline, reason",
  [
    (["a", "b"], ["a", "b"], ""),
    (["a", "b", "c"], ["a", "b"], "added c"),
    (["a"], ["a", "b"], "removed b"),
    (["a", "c"], ["a", "b"], "added c; removed b"),
    (["a", "b"], ["b", "a"], "the same classes in another id order"),
    (["a", "b"], None, "the baseline model does not record its classes"),
  ],
)
def test_classes_mismatch_names_what_changed(candidate, baseline, reason):
  assert labels.classes_mismatch(candidate, baseline) == reason
