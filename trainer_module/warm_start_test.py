"""Warm start: real small CNNs, a base model's serving dir written as the Trainer writes it
(the Keras model, labels.txt and the input contract in assets.extra/), and what `decide` does
with them: copies the weights when the models fit, leaves the new model as built otherwise."""

import os

import numpy as np
import pytest

from schemas import filenames
from trainer_module import contract, export, labels, warm_start
from trainer_module import model as model_lib

CLASSES = ["cat", "dog", "fox"]
WIDTH = 4  # small: the tests build several models


def _cnn(size=16, classes=CLASSES, width=WIDTH, mean=None, std=None):
  return model_lib.build_model("cnn", size, 1, len(classes), width=width, mean=mean, std=std)


def _recognisable(model, seed=7):
  """Gives every weight a seeded value in [0.5, 1.5), unlike any initializer's."""
  rng = np.random.default_rng(seed)
  for layer in model.layers:
    layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(w.dtype) for w in layer.get_weights()])
  return model


def _serving_dir(path, model, class_names=CLASSES, size=16, resize="squash"):
  """What the Trainer writes beside a SavedModel, in `path`."""
  path = str(path)
  keras_path = os.path.join(path, filenames.MODEL_KERAS)
  os.makedirs(os.path.dirname(keras_path), exist_ok=True)
  model.save(keras_path)
  labels.write_class_names(path, class_names)
  contract.write_contract(path, contract.input_contract([size, size, 1], resize, "cnn"))
  return path


@pytest.fixture
def base(tmp_path):
  """(serving dir, base model) of a 16x16x1 CNN on CLASSES with recognisable weights."""
  model = _recognisable(_cnn(mean=[10.0], std=[2.0]))
  return _serving_dir(tmp_path / "base", model), model


def _weights(model):
  return [[w.copy() for w in layer.get_weights()] for layer in model.layers]


def _assert_weights_equal(model, expected):
  assert len(model.layers) == len(expected)
  for layer, weights in zip(model.layers, expected):
    actual = layer.get_weights()
    assert len(actual) == len(weights), layer.name
    for a, b in zip(actual, weights):
      np.testing.assert_array_equal(a, b, err_msg=layer.name)


def _assert_from_scratch(decision, model, before, epochs, reason_has=()):
  assert decision.base_model is None
  assert decision.epochs == epochs
  assert decision.rate_factor == 1.0
  for part in reason_has:
    assert part in decision.reason, decision.reason
  _assert_weights_equal(model, before)


def test_an_unknown_mode_is_refused(base):
  base_dir, _ = base
  with pytest.raises(ValueError, match="warm start must be one of auto, never, got 'always'"):
    warm_start.decide(None, [], "squash", "always", base_dir, 6, 0)


def test_never_keeps_the_new_weights_even_with_a_fitting_base(base):
  base_dir, _ = base
  model = _cnn()
  before = _weights(model)
  decision = warm_start.decide(model, CLASSES, "squash", "never", base_dir, 10, 0)
  assert decision == warm_start.Decision(None, "--warm-start never", 10, 1.0)
  _assert_weights_equal(model, before)


@pytest.mark.parametrize("base_dir", [None, ""])
def test_no_blessed_model_yet(base_dir):
  model = _cnn()
  before = _weights(model)
  decision = warm_start.decide(model, CLASSES, "squash", "auto", base_dir, 9, 2)
  assert decision == warm_start.Decision(None, "no blessed model to start from", 9, 1.0)
  _assert_weights_equal(model, before)


@pytest.mark.parametrize("epochs, warm_start_epochs, expected", [(10, 0, 3), (2, 0, 1), (10, 4, 4)])
def test_a_fitting_base_model_starts_the_new_one(base, epochs, warm_start_epochs, expected):
  base_dir, base_model = base
  # Other normalization constants (today's training data's): replaced by the base's.
  model = _cnn(mean=[100.0], std=[5.0])
  expected_weights = _weights(base_model)
  # The test can fail: the new model's own weights are not the base's.
  assert any(
    not np.array_equal(a, b)
    for ours, theirs in zip(_weights(model), expected_weights)
    for a, b in zip(ours, theirs)
  )

  decision = warm_start.decide(
    model, CLASSES, "squash", "auto", base_dir, epochs, warm_start_epochs
  )

  assert decision.base_model == base_dir
  assert decision.reason == ""
  assert decision.epochs == expected == warm_start.warm_epochs(epochs, warm_start_epochs)
  assert decision.rate_factor == warm_start.RATE_FACTOR == 0.1
  _assert_weights_equal(model, expected_weights)
  # The normalization constants are the served model's too: it starts as that very model.
  standardize = model.get_layer("standardize")
  np.testing.assert_allclose(np.asarray(standardize.mean).ravel(), [10.0])
  np.testing.assert_allclose(np.asarray(standardize.variance).ravel(), [4.0])
  assert standardize.get_config()["mean"] == [10.0]  # what model.keras will record
  assert export.standardization(model) == ([10.0], [2.0])
  images = np.random.default_rng(0).uniform(0, 255, (4, 16, 16, 1)).astype("float32")
  np.testing.assert_allclose(model(images), base_model(images), rtol=1e-5, atol=1e-6)


def _from_scratch(base_dir, model, classes=CLASSES):
  """decide() on a base that does not fit: from scratch, the model's weights untouched; the
  reason."""
  before = _weights(model)
  decision = warm_start.decide(model, classes, "squash", "auto", base_dir, 10, 0)
  _assert_from_scratch(decision, model, before, 10)
  return decision.reason


def test_changed_classes_start_from_scratch(base):
  classes = ["cat", "dog", "owl"]
  assert _from_scratch(base[0], _cnn(classes=classes), classes) == (
    "the last blessed model does not fit: its classes differ (added owl; removed fox)"
  )


def test_the_same_classes_in_another_order_start_from_scratch(base):
  classes = ["dog", "cat", "fox"]
  reason = _from_scratch(base[0], _cnn(classes=classes), classes)
  assert "its classes differ (the same classes in another id order)" in reason


def test_another_input_size_starts_from_scratch(tmp_path):
  base_dir = _serving_dir(tmp_path / "base", _recognisable(_cnn(size=24)), size=24)
  assert _from_scratch(base_dir, _cnn(size=16)) == (
    "the last blessed model does not fit: its input is 24x24x1, not 16x16x1"
  )


def test_another_resize_mode_starts_from_scratch(tmp_path):
  base_dir = _serving_dir(tmp_path / "base", _recognisable(_cnn()), resize="crop")
  assert _from_scratch(base_dir, _cnn()) == (
    "the last blessed model does not fit: its images were resized by crop, not squash"
  )


def test_another_architecture_starts_from_scratch(tmp_path):
  base_dir = _serving_dir(tmp_path / "base", _recognisable(_cnn(width=2 * WIDTH)))
  reason = _from_scratch(base_dir, _cnn(width=WIDTH))
  # Layer 0 is the input, 1 the normalization (no weights), 2 the first convolution.
  assert "its architecture differs" in reason and "first difference at layer 2" in reason


def test_a_base_without_its_keras_model_starts_from_scratch(tmp_path):
  base_dir = str(tmp_path / "base")
  labels.write_class_names(base_dir, CLASSES)
  contract.write_contract(base_dir, contract.input_contract([16, 16, 1], "squash", "cnn"))
  assert _from_scratch(base_dir, _cnn()) == (
    "the last blessed model does not fit: the last blessed model has no Keras model beside it"
  )


def test_a_base_without_labels_starts_from_scratch(tmp_path):
  base_dir = _serving_dir(tmp_path / "base", _recognisable(_cnn()))
  os.remove(os.path.join(base_dir, filenames.MODEL_LABELS))
  assert "does not record its classes" in _from_scratch(base_dir, _cnn())


def test_warm_epochs():
  assert warm_start.warm_epochs(10, 0) == 3
  assert warm_start.warm_epochs(2, 0) == 1
  assert warm_start.warm_epochs(1, 0) == 1
  assert warm_start.warm_epochs(10, 4) == 4
  assert warm_start.warm_epochs(2, 5) == 5  # --warm-start-epochs as given, even above --epochs


def test_record_of_a_warm_start():
  record = warm_start.Decision("/serving/1700000000", "", 3, warm_start.RATE_FACTOR).record()
  assert record == {
    "from": "/serving/1700000000",
    "reason": None,
    "epochs": 3,
    "learning_rate_factor": 0.1,
  }


def test_record_of_a_start_from_scratch():
  record = warm_start.Decision(None, "no blessed model to start from", 10).record()
  assert record == {
    "from": None,
    "reason": "no blessed model to start from",
    "epochs": 10,
    "learning_rate_factor": 1.0,
  }
