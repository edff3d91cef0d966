"""Conversion of both model families to TFLite: uint8 pixels in, probabilities out."""

import keras
import numpy as np
import pytest

from components.tflite_export import convert
from trainer_module.constants import IMAGE_XF
from trainer_module.model import build_cnn, build_efficientnet


@pytest.mark.parametrize(
  "build, shape",
  [
    (lambda: build_cnn(16, 3, 4, width=8), (16, 16, 3)),
    (lambda: build_efficientnet(32, 1, 3), (32, 32, 1)),  # grey repeated to RGB inside
  ],
  ids=["cnn", "efficientnet"],
)
def test_both_models_convert_to_int8_and_float16_and_answer_like_keras(build, shape):
  keras.utils.set_random_seed(0)
  model = build()
  rng = np.random.default_rng(0)
  calibration = rng.integers(0, 256, (16, *shape), dtype=np.uint8)
  pixels = rng.integers(0, 256, (4, *shape), dtype=np.uint8)
  expected = np.asarray(model({IMAGE_XF: pixels.astype(np.float32)}, training=False))
  for kind in (convert.INT8, convert.FLOAT16):
    classifier = convert.TFLiteClassifier(content=convert.convert(model, kind, calibration))
    described = classifier.describe()
    assert described["input"]["dtype"] == "uint8" and described["input"]["shape"] == [1, *shape]
    assert described["output"]["dtype"] == "float32"
    assert described["output"]["shape"] == [1, expected.shape[1]]
    probabilities = classifier.predict(pixels)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=0.02)
    if kind == convert.FLOAT16:  # float16 weights, float32 arithmetic: close to Keras
      np.testing.assert_allclose(probabilities, expected, atol=0.01)


def test_int8_needs_calibration_images():
  with pytest.raises(ValueError, match="calibration"):
    convert.convert(build_cnn(16, 1, 2, width=4), convert.INT8, np.zeros((0, 16, 16, 1)))
