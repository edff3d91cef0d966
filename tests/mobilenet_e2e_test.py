"""--model mobilenet through the whole pipeline on digits, from a local weights file in Keras'
notop layout (nothing can be downloaded here): trained in two phases, blessed, pushed, and its
int8 TFLite model within the parity gate.

The file stands in for ImageNet's: a backbone trained for a few seconds on digits. Random
weights would not do: a frozen random MobileNetV2 gives every digit nearly the same features
(seen: accuracy 0.07, every image predicted as one class)."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from pipeline.sample_data import export_digits
from reporting import advice
from schemas import filenames
from tests import images, runs
from trainer_module import contract

pytestmark = pytest.mark.e2e


def _pretrained_backbone(count=1797, epochs=5):
  """MobileNetV2's notop backbone at 32 pixels, trained briefly on `count` digits."""
  keras.utils.set_random_seed(0)
  source = keras.applications.MobileNetV2(
    include_top=False, weights=None, input_shape=(32, 32, 3), pooling="avg"
  )
  for layer in source.layers:  # moving statistics that settle within these few steps
    if isinstance(layer, keras.layers.BatchNormalization):
      layer.momentum = 0.9
  pairs = images.digit_pixels(count)
  pixels = tf.image.resize(np.stack([p for p, _ in pairs]).astype(np.float32), [32, 32])
  pixels = keras.applications.mobilenet_v2.preprocess_input(np.repeat(pixels.numpy(), 3, -1))
  classifier = keras.Sequential([source, keras.layers.Dense(10, activation="softmax")])
  classifier.compile("adam", "sparse_categorical_crossentropy")
  classifier.fit(pixels, np.array([d for _, d in pairs]), epochs=epochs, verbose=0)
  return source


def test_mobilenet_from_a_weights_file_trains_blesses_and_exports_int8(tmp_path):
  source = _pretrained_backbone()
  weights = str(tmp_path / "mobilenet_v2_1.0_32_no_top.weights.h5")
  source.save_weights(weights)
  data_dir = export_digits(str(tmp_path / "digits"))
  result, summary = runs.run_local(
    data_dir,
    str(tmp_path / "out"),
    "mobilenet-e2e",
    "--model",
    "mobilenet",
    "--weights",
    weights,
    "--channels",
    "1",  # grey, repeated to RGB inside the model
    "--epochs",
    "3",
    "--fine-tune-epochs",
    "1",
    "--accuracy-threshold",
    "0.5",
    "--min-class-recall",
    "0",
    "--min-class-precision",
    "0",
  )
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  settings = summary["training"]["settings"]
  assert (settings["model"], settings["model_variant"], settings["input_shape"]) == (
    "mobilenet",
    "v2",
    [32, 32, 1],
  )
  assert [e["phase"] for e in summary["training"]["epoch_log"]] == ["train"] * 3 + ["fine_tune"]
  assert summary["blessed"] and summary["metrics"]["accuracy"] >= 0.5
  assert os.path.isfile(os.path.join(summary["pushed_model_path"], "saved_model.pb"))

  # The backbone's lower layers (frozen in both phases) hold the file's weights.
  trained = contract.load_keras_model(summary["pushed_model_path"])
  backbone = trained.get_layer("backbone")
  for name in ("Conv1", "expanded_conv_depthwise"):
    for loaded, saved in zip(backbone.get_layer(name).weights, source.get_layer(name).weights):
      np.testing.assert_array_equal(loaded.numpy(), saved.numpy())
  with open(os.path.join(summary["pushed_model_path"], filenames.MODEL_CONTRACT)) as f:
    assert json.load(f)["normalization"]["formula"] == "pixel / 127.5 - 1"

  tflite = summary["tflite"]
  assert tflite["passed"] is True, tflite["reason"]
  assert tflite["int8"]["agreement"] >= 0.98 and tflite["images"] >= 300
  assert os.path.isfile(os.path.join(tflite["path"], "model_int8.tflite"))

  # With weights there is no from-scratch warning; near-chance advice is the rule's, shown once.
  assert "from scratch (--weights none)" not in result.stdout
  expected = advice.near_chance(summary["metrics"], summary["training"], summary["splits"]["train"])
  assert summary["advice"] == expected
  assert ("  advice: " in result.stdout) == (expected is not None)
