"""Conversion of every model family to ONNX: one uint8 input of any batch size, the Keras
model's answers to float32 precision."""

import keras
import numpy as np
import onnx
import pytest

from components import scoring
from components.tflite_export import onnx_convert
from schemas.features import IMAGE_XF
from tests import images
from trainer_module.model import build_cnn, build_mobilenet


@pytest.mark.parametrize(
  "build, shape",
  [
    (lambda: build_cnn(16, 1, 10, width=8, mean=[90.0], std=[60.0]), (16, 16, 1)),
    # V3's hard-swish and its own rescaling; EfficientNet converts the same way (about 15 s).
    (lambda: build_mobilenet(32, 3, 10, "v3small"), (32, 32, 3)),
  ],
  ids=["cnn", "mobilenet_v3small"],
)
def test_every_model_converts_to_one_uint8_input_and_answers_like_keras(build, shape):
  keras.utils.set_random_seed(0)
  model = build()
  content = onnx_convert.convert(model)
  graph = onnx.load_from_string(content).graph
  assert [i.name for i in graph.input] == ["pixels"]  # the standardization is not an input
  assert [o.name for o in graph.output] == ["probabilities"]
  classifier = scoring.ONNXClassifier(content=content)
  assert classifier.describe() == {
    "input": {"name": "pixels", "dtype": "uint8", "shape": ["batch", *shape]},
    "output": {"name": "probabilities", "dtype": "float32", "shape": ["batch", 10]},
  }
  digits = np.stack([p for p, _ in images.digit_pixels(5)])  # real 8x8 digits, scaled up
  pixels = np.repeat(np.repeat(np.repeat(digits, shape[0] // 8, 1), shape[1] // 8, 2), shape[2], 3)
  expected = np.asarray(model({IMAGE_XF: pixels.astype(np.float32)}, training=False))
  for batch in (pixels[:1], pixels):  # any batch size
    np.testing.assert_allclose(classifier.predict(batch), expected[: len(batch)], atol=1e-5)
