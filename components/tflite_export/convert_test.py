"""Conversion of every model family to TFLite: uint8 pixels in, probabilities out; the int8
model answers like the float Keras model on real digits."""

import keras
import numpy as np
import pytest
from tfx.utils import path_utils

from components import scoring
from components.tflite_export import convert, executor
from schemas.features import IMAGE_XF
from trainer_module import contract
from trainer_module.labels import read_class_names
from trainer_module.model import build_cnn, build_efficientnet, build_mobilenet


@pytest.mark.parametrize(
  "build, shape",
  [
    (lambda: build_cnn(16, 3, 4, width=8), (16, 16, 3)),
    (lambda: build_efficientnet(32, 1, 3), (32, 32, 1)),  # grey repeated to RGB inside
    # V3's hard-swish; V2 converts in tests/mobilenet_e2e_test.py (int8, through parity).
    (lambda: build_mobilenet(32, 3, 3, "v3small"), (32, 32, 3)),
  ],
  ids=["cnn", "efficientnet", "mobilenet_v3small"],
)
def test_every_model_converts_to_int8_and_float16_with_the_app_facing_tensors(build, shape):
  keras.utils.set_random_seed(0)
  model = build()
  rng = np.random.default_rng(0)
  calibration = rng.integers(0, 256, (16, *shape), dtype=np.uint8)
  pixels = rng.integers(0, 256, (4, *shape), dtype=np.uint8)
  expected = np.asarray(model({IMAGE_XF: pixels.astype(np.float32)}, training=False))
  converted = convert.convert_all(model, (convert.INT8, convert.FLOAT16), calibration)
  for kind, content in converted.items():  # both from one exported archive
    classifier = scoring.TFLiteClassifier(content=content)
    described = classifier.describe()
    assert described["input"]["dtype"] == "uint8" and described["input"]["shape"] == [1, *shape]
    assert described["output"]["dtype"] == "float32"
    assert described["output"]["shape"] == [1, expected.shape[1]]
    inside = {np.dtype(t["dtype"]).name for t in classifier.interpreter.get_tensor_details()}
    assert ("int8" in inside) == (kind == convert.INT8), inside  # int8 weights and activations
    if kind == convert.FLOAT16:  # float16 weights, float32 arithmetic: close to Keras
      np.testing.assert_allclose(classifier.predict(pixels), expected, atol=0.01)
  # The int8 model's answers are checked on a trained model and real images below: an
  # untrained model's near-uniform probabilities would hide any quantization error.


def test_int8_answers_like_the_float_model_on_real_digits(digits_model):
  examples, model, _ = digits_model
  model_dir = path_utils.serving_model_path(model.uri)
  keras_model, spec = contract.load_keras_model(model_dir), contract.read_contract(model_dir)
  names = read_class_names(model_dir)

  def split(name, limit):
    found = executor.read_examples(examples.uri, name, limit)
    pixels = scoring.decode([r.image for r in found], spec)
    return pixels, np.array([names.index(r.label) for r in found])

  calibration, _ = split("train", 100)
  pixels, labels = split("eval", 1000)
  int8 = scoring.TFLiteClassifier(content=convert.convert(keras_model, convert.INT8, calibration))
  quantized = int8.predict(pixels)
  reference = np.asarray(keras_model({IMAGE_XF: pixels.astype(np.float32)}, training=False))

  assert len(labels) >= 80 and np.mean(reference.argmax(axis=1) == labels) > 0.5  # it learned
  assert np.mean(quantized.argmax(axis=1) == reference.argmax(axis=1)) >= 0.97
  # Every probability within a few int8 steps (1/256) of the float model's (seen: at most
  # 0.009, 0.0013 on average), not merely a distribution.
  error = np.abs(quantized - reference)
  assert error.max() < 0.05 and error.mean() < 0.005, (error.max(), error.mean())
  accuracy = {
    name: np.mean(p.argmax(axis=1) == labels)
    for name, p in (("float", reference), ("int8", quantized))
  }
  assert accuracy["int8"] >= accuracy["float"] - 0.03, accuracy


def test_int8_needs_calibration_images():
  with pytest.raises(ValueError, match="calibration"):
    convert.convert(build_cnn(16, 1, 2, width=4), convert.INT8, np.zeros((0, 16, 16, 1)))
