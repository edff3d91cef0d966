"""LabelIssues' run_fn: folds by class, and out-of-fold probabilities of every training image
from models trained through the real Trainer executor on digits (raw examples through
Transform's graph)."""

import collections
import json
import os
import random

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

from components.image_example_gen import records
from pipeline import pipeline
from schemas import filenames
from schemas.features import IMAGE_XF
from tests import training
from tests.training import BASE_CONFIG
from trainer_module import out_of_fold


def _paths(count):
  return [f"{i % 7}/image_{i:04d}.png".encode() for i in range(count)]


def test_every_fold_gets_its_share_of_every_class_whatever_the_order_of_the_files():
  paths = _paths(200)
  labels = [int(p[:1]) for p in paths]  # 7 classes of 28 or 29 images
  folds = out_of_fold.assign_folds(paths, labels, 3)
  assert set(folds) == {0, 1, 2}
  assert max(np.bincount(folds)) - min(np.bincount(folds)) <= 1
  for label in set(labels):
    per_fold = np.bincount(folds[np.array(labels) == label], minlength=3)
    assert max(per_fold) - min(per_fold) <= 1, (label, per_fold)
  # The same files get the same folds, however they are listed.
  order = list(range(len(paths)))
  random.Random(0).shuffle(order)
  again = out_of_fold.assign_folds([paths[i] for i in order], [labels[i] for i in order], 3)
  assert [int(f) for f in again] == [int(folds[i]) for i in order]


def test_a_class_smaller_than_the_folds_still_lands_in_some_of_them():
  folds = out_of_fold.assign_folds([b"a/1.png", b"b/1.png", b"b/2.png"], [0, 1, 1], 3)
  assert sorted(folds) == [0, 1, 2]


@pytest.fixture(scope="module")
def out_of_fold_run(digits_transformed, tmp_path_factory):
  """LabelIssues' run_fn through the Trainer executor: 2 folds of 1 epoch."""
  transformed, graph = digits_transformed
  examples = training.raw_examples(transformed)
  work = str(tmp_path_factory.mktemp("out_of_fold"))
  model, model_run = training.run_trainer(
    examples,
    graph,
    work,
    {**BASE_CONFIG, "label_issue_folds": 2},
    run_fn=pipeline.LABEL_ISSUES_FN,
  )
  return examples, transformed, graph, model, model_run


def test_each_training_image_is_scored_once_by_the_model_of_its_fold(out_of_fold_run):
  examples, _, graph, model, model_run = out_of_fold_run
  with open(os.path.join(model_run.uri, filenames.FOLDS_REPORT)) as f:
    report = json.load(f)
  data = np.load(os.path.join(model_run.uri, filenames.OUT_OF_FOLD))
  train = list(records.read(examples.uri, "train"))
  class_names = tft.TFTransformOutput(graph.uri).vocabulary_by_name("label")
  assert report["class_names"] == [c.decode() for c in class_names]
  assert sorted(data["path"].tolist()) == sorted(r.file_name for r in train)
  label_of = {r.file_name: report["class_names"].index(r.label) for r in train}
  assert data["label"].tolist() == [label_of[p] for p in data["path"].tolist()]
  np.testing.assert_allclose(data["probabilities"].sum(axis=1), 1.0, rtol=1e-4)
  # Two folds, each with its half of every class, each scored by the other's model.
  assert sorted(collections.Counter(data["fold"].tolist())) == [1, 2]
  assert [(f["fold"], f["trained_on"] + f["held_out"]) for f in report["per_fold"]] == [
    (1, len(train)),
    (2, len(train)),
  ]
  assert [f["held_out"] for f in report["per_fold"]] == [
    int(np.sum(data["fold"] == 1)),
    int(np.sum(data["fold"] == 2)),
  ]
  assert report["accuracy"] == pytest.approx(
    np.mean(data["probabilities"].argmax(axis=1) == data["label"]), abs=1e-4
  )
  assert report["accuracy"] > 0.2  # one epoch on 330 digits: well above chance (0.1)
  phases = [
    json.loads(line)["phase"] for line in open(os.path.join(model_run.uri, "training_log.jsonl"))
  ]
  assert phases == ["fold_1_train", "fold_2_train"]
  # No model to serve: a note says where the probabilities are.
  assert os.listdir(training.serving_model_dir(model)) == ["README.txt"]
  assert not os.path.exists(os.path.join(model_run.uri, "cache"))


def test_the_fold_models_see_the_pixels_transform_wrote(out_of_fold_run):
  examples, transformed, graph, _, _ = out_of_fold_run
  output = tft.TFTransformOutput(graph.uri)
  files = records.split_files(examples.uri, "train")
  ours = collections.Counter(
    image
    for features, _ in out_of_fold.through_transform(files, output, 64)
    for image in features[IMAGE_XF].numpy().tolist()
  )
  spec = {IMAGE_XF: tf.io.FixedLenFeature([], tf.string)}
  transforms = collections.Counter(
    tf.io.parse_single_example(r, spec)[IMAGE_XF].numpy()
    for r in tf.data.TFRecordDataset(
      records.split_files(transformed.uri, "train"), compression_type="GZIP"
    )
  )
  assert ours == transforms
  assert sum(ours.values()) == len(list(records.read(examples.uri, "train")))
