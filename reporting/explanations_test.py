"""The report's Grad-CAM and misclassified pages, on a CNN trained on real digits."""

import os

import numpy as np
import tensorflow as tf
from tfx.utils import path_utils

from reporting import explanations, publish
from tests import records


def test_select_takes_each_classes_most_confident_mistakes_and_correct_image():
  labels = np.array([0, 0, 0, 0, 1, 1, 2])
  probabilities = np.array(
    [
      [0.9, 0.1, 0.0],  # 0 right, 0.9
      [0.6, 0.4, 0.0],  # 0 right, 0.6
      [0.2, 0.7, 0.1],  # 0 as 1, 0.7
      [0.1, 0.1, 0.8],  # 0 as 2, 0.8
      [0.5, 0.3, 0.2],  # 1 as 0, 0.5
      [0.2, 0.2, 0.6],  # 1 as 2, 0.6
      [0.1, 0.1, 0.8],
    ]
  )  # 2 right
  chosen = explanations.select(labels, probabilities, mistakes=3)
  assert chosen == {
    0: {"mistakes": [3, 2], "correct": [0]},
    1: {"mistakes": [5, 4], "correct": []},
    2: {"mistakes": [], "correct": [6]},
  }
  assert explanations.select(labels, probabilities, mistakes=1)[0]["mistakes"] == [3]
  assert explanations.most_confident_mistakes(labels, probabilities, 3) == [3, 2, 5]


def test_the_report_gets_gradcam_and_misclassified_pages_of_the_gated_split(digits_model, tmp_path):
  examples, model, _ = digits_model
  summary = {"model_path": model.uri, "examples_path": examples.uri, "metrics": {"split": "eval"}}
  written = explanations.write(summary, str(tmp_path))
  assert written == [str(tmp_path / name) for name in explanations.FILES]
  for path in written:
    page = tf.io.decode_png(open(path, "rb").read()).numpy()
    assert page.shape[0] > 200 and page.shape[1] > 400  # a gallery, not an empty figure
  assert set(explanations.FILES) <= set(publish.FILES)

  # What the pages show is what the served model answers on the same images.
  pixels, labels, probabilities, class_names, cam = explanations.analyse(
    path_utils.serving_model_path(model.uri), examples.uri, "eval"
  )
  data = [records.feature(e, "image") for e in records.split_examples(examples.uri, "eval")]
  served = tf.saved_model.load(path_utils.serving_model_path(model.uri)).signatures[
    "serving_default"
  ](image_bytes=tf.constant(data))
  np.testing.assert_allclose(probabilities, served["probabilities"].numpy(), atol=1e-5)
  assert class_names == [c.decode() for c in served["class_names"].numpy()[0]]
  assert len(labels) == len(pixels) == len(data) and labels.min() >= 0
  assert cam.layer_name.startswith("re_lu")


def test_no_pages_without_a_model_and_the_report_goes_on(tmp_path):
  assert explanations.write({"model_path": None, "examples_path": None}, str(tmp_path)) == []
  assert (
    explanations.write(
      {"model_path": str(tmp_path / "none"), "examples_path": str(tmp_path)}, str(tmp_path)
    )
    == []
  )
  assert os.listdir(tmp_path) == []
