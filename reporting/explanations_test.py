"""The report's Grad-CAM and misclassified pages, on a CNN trained on real digits."""

import os

import numpy as np
import tensorflow as tf
from tfx.utils import path_utils

from reporting import card, escape, explanations, plots
from schemas.run_record import RunRecord
from tests import images, records, training
from trainer_module import contract
from trainer_module.model import BACKBONE, build_efficientnet


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
  summary = RunRecord(
    "p", "r", model_path=model.uri, examples_path=examples.uri, metrics={"split": "eval"}
  )
  written = explanations.write(summary, str(tmp_path))
  assert written == [str(tmp_path / name) for name in explanations.FILES]
  for path in written:
    page = tf.io.decode_png(open(path, "rb").read()).numpy()
    assert page.shape[0] > 200 and page.shape[1] > 400  # a gallery, not an empty figure

  # What the pages show is what the served model answers on the same images.
  pixels, labels, probabilities, class_names, cam, files = explanations.analyse(
    path_utils.serving_model_path(model.uri), examples.uri, "eval"
  )
  eval_examples = records.split_examples(examples.uri, "eval")
  data = [records.feature(e, "image") for e in eval_examples]
  served = tf.saved_model.load(path_utils.serving_model_path(model.uri)).signatures[
    "serving_default"
  ](image_bytes=tf.constant(data))
  np.testing.assert_allclose(probabilities, served["probabilities"].numpy(), atol=1e-5)
  assert class_names == [c.decode() for c in served["class_names"].numpy()[0]]
  assert len(labels) == len(pixels) == len(data) and labels.min() >= 0
  assert files == [records.feature(e, "file_name").decode() for e in eval_examples]
  assert cam.layer_name.startswith("re_lu")

  # The images the pages choose are the served model's mistakes (and, for "correct", its right
  # answers), counted here from the records' labels and serving_default's answers.
  served_probabilities = served["probabilities"].numpy()
  truth = np.array([class_names.index(records.feature(e, "label").decode()) for e in eval_examples])
  top, confidence = served_probabilities.argmax(axis=1), served_probabilities.max(axis=1)
  wrong = np.flatnonzero(top != truth)
  assert 0 < len(wrong) < len(truth) / 2  # a model that learned, and made mistakes to show
  gallery = explanations.most_confident_mistakes(labels, probabilities)
  assert set(gallery) <= set(wrong) and len(gallery) == min(explanations.GALLERY, len(wrong))
  assert np.all(np.diff(confidence[gallery]) <= 1e-5)  # most confident first
  left_out = np.setdiff1d(wrong, gallery)
  assert not len(left_out) or confidence[left_out].max() <= confidence[gallery].min() + 1e-5
  for class_id, chosen in explanations.select(labels, probabilities).items():
    mine = truth == class_id
    mistakes, right = (
      np.flatnonzero(mine & (top != class_id)),
      np.flatnonzero(mine & (top == class_id)),
    )
    assert set(chosen["mistakes"]) <= set(mistakes)
    assert len(chosen["mistakes"]) == min(explanations.MISTAKES, len(mistakes))
    assert len(chosen["correct"]) == min(1, len(right))
    if len(right):
      assert chosen["correct"][0] in right
      assert confidence[chosen["correct"][0]] >= confidence[right].max() - 1e-5

  # The misclassified page's captions name the file, a true and a different predicted class
  # each: the served model's, image by image.
  figure = explanations.plot_misclassified(pixels, labels, probabilities, class_names, files=files)
  captions = [axes.get_title() for axes in figure.axes if axes.get_title()]
  plots.pyplot().close(figure)
  expected = [
    f"{os.path.basename(files[i])}\ntrue {class_names[truth[i]]}\npredicted {class_names[top[i]]} "
    f"{probabilities[i].max():.2f}"
    for i in gallery
  ]
  assert captions == expected


def test_a_feature_map_smaller_than_4x4_leaves_gradcam_out_and_the_card_says_why(tmp_path):
  # EfficientNet at 32 pixels: a 1x1 map (untrained: the rule is the map's size, not the model).
  model_uri = tmp_path / "model"
  names = [str(d) for d in range(10)]
  training.keep_beside(
    path_utils.serving_model_path(str(model_uri)),
    build_efficientnet(32, 1, 10),
    contract.input_contract([32, 32, 1], "squash", "efficientnet"),
    names,
  )
  digits = images.digit_files({d: 2 for d in range(10)})
  records.write_split(str(tmp_path / "examples"), "eval", [(n, d, n[0]) for n, d in digits.items()])
  record = RunRecord(
    "p",
    "r",
    model_path=str(model_uri),
    examples_path=str(tmp_path / "examples"),
    metrics={"split": "eval"},
  )
  reason = explanations.gradcam_skipped(record)
  assert reason.startswith(
    f"Grad-CAM skipped: the last convolutional feature map ({BACKBONE}/top_activation) is 1x1, "
    "smaller than 4x4"
  )
  report = tmp_path / "report"
  report.mkdir()
  assert explanations.write(record, str(report)) == [str(report / "misclassified.png")]
  assert os.listdir(report) == ["misclassified.png"]
  record.predictions = {
    "file": "predictions.csv",
    "split": "eval",
    "images": 20,
    "mistakes": 18,
    "most_confident_mistakes": [],
    "gradcam_skipped": reason,
  }
  record.thresholds = {"accuracy": 0.8, "min_class_recall": 0.5, "min_class_precision": 0.5}
  assert escape.markdown(reason) + "." in card.model_card(record).splitlines()
  assert explanations.gradcam_skipped(RunRecord("p", "r")) is None  # no model: nothing to skip


def test_no_pages_without_a_model_and_the_report_goes_on(tmp_path):
  assert explanations.write(RunRecord("p", "r"), str(tmp_path)) == []
  missing = RunRecord("p", "r", model_path=str(tmp_path / "none"), examples_path=str(tmp_path))
  assert explanations.write(missing, str(tmp_path)) == []
  assert os.listdir(tmp_path) == []
