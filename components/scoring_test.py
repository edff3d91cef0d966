"""The one scorer, on real digit images: decoding as input.json says, batches, the Keras model
kept beside a SavedModel, and a file the decoder refuses failing alone. (Pushed SavedModels and
TFLite files through it, against TF Serving's answers: pipeline/predict_test.py.)"""

import numpy as np
import pytest
import tensorflow as tf

from components import scoring
from tests import images, training
from trainer_module import contract, preprocessing
from trainer_module.model import build_cnn

SPEC = contract.input_contract([16, 16, 1], "squash", "cnn", [0.0], [1.0])


def _digits(count: int, fmt: str = "png"):
  return [images.encode(pixels, fmt) for pixels, _ in images.digit_pixels(count)]


def test_decoding_is_transforms_image_by_image_whatever_the_batch():
  data = _digits(scoring.BATCH + 6) + _digits(3, "jpeg")
  pixels = scoring.decode(data, SPEC)
  assert pixels.shape == (len(data), 16, 16, 1) and pixels.dtype == np.uint8
  one_by_one = [preprocessing.decode_images(tf.constant([d]), 16, 1, "squash")[0] for d in data]
  np.testing.assert_array_equal(pixels, np.stack(one_by_one))
  assert scoring.decode([], SPEC).shape == (0, 16, 16, 1)


def test_the_keras_model_beside_a_saved_model_scores_in_batches_as_one_call(tmp_path):
  with pytest.raises(FileNotFoundError, match="a model trained before they were kept"):
    scoring.load_keras(str(tmp_path))
  model = build_cnn(16, 1, 10, width=4)
  training.keep_beside(str(tmp_path), model, SPEC, [str(d) for d in range(10)])
  loaded = scoring.load_keras(str(tmp_path))
  assert loaded.spec == SPEC and loaded.class_names == [str(d) for d in range(10)]
  pixels = scoring.decode(_digits(70), SPEC)
  probabilities = scoring.keras_probabilities(loaded.model, pixels, batch_size=32)
  whole = np.asarray(model({model.inputs[0].name: pixels.astype(np.float32)}, training=False))
  np.testing.assert_allclose(probabilities, whole, atol=1e-6)
  assert probabilities.shape == (70, 10)


def test_an_image_the_decoder_refuses_fails_alone():
  model = build_cnn(16, 1, 10, width=4)

  def scorer(data):
    return scoring.keras_probabilities(model, scoring.decode(data, SPEC))

  good = _digits(5)
  broken = good[0][:60]  # a truncated PNG: TensorFlow's decoder refuses it
  results = scoring.classify(scorer, good[:2] + [broken] + good[2:])
  assert [error is None for _, error in results] == [True, True, False, True, True, True]
  assert results[2][0] is None and results[2][1].startswith("decode_error (")
  expected = scorer(good)
  np.testing.assert_allclose([p for p, e in results if e is None], expected, atol=1e-6)


def test_top_k_is_most_probable_first_and_its_first_is_argmax():
  p = np.array([0.1, 0.3, 0.05, 0.3, 0.25], np.float32)
  assert scoring.top_k(p, 3) == [1, 3, 4]  # of equals, the lower id first
  assert scoring.top_k(p, 1) == [int(p.argmax())]
  assert scoring.top_k(p, 10) == [1, 3, 4, 0, 2]
