"""Class weights: the label counts Transform recorded, and the modes that weigh them."""

import numpy as np
import pytest
import tensorflow_transform as tft

from tests.training import PER_CLASS
from trainer_module import class_weights


@pytest.mark.integration  # Transform's output
def test_label_counts_come_from_transform_and_auto_weights_favour_rare_classes(
  digits_transformed,
):
  output = tft.TFTransformOutput(digits_transformed[1].uri)
  counts = class_weights.label_counts(output)
  names = output.vocabulary_by_name("label")
  by_name = {names[i].decode(): n for i, n in counts.items()}
  assert set(by_name) == {str(d) for d in range(10)}
  # ~3/4 of each class is in train (hash split); digit 0 stays about three times the others.
  assert sum(by_name.values()) < sum(PER_CLASS.values())
  assert by_name["0"] > 2 * max(n for name, n in by_name.items() if name != "0")
  weights = class_weights.class_weights(counts, "auto")
  zero = names.index(b"0")
  assert weights[zero] < 0.5 < min(w for i, w in weights.items() if i != zero)
  np.testing.assert_allclose(sum(weights[i] * counts[i] for i in counts), sum(counts.values()))


def test_class_weight_modes():
  assert class_weights.class_weights({0: 10, 1: 12}, "auto") is None  # balanced enough
  assert class_weights.class_weights({0: 10, 1: 40}, "none") is None
  assert class_weights.class_weights({0: 10, 1: 12}, "balanced") == pytest.approx(
    {0: 1.1, 1: 22 / 24}
  )
  with pytest.raises(ValueError, match="class weights mode"):
    class_weights.class_weights({0: 1}, "sometimes")
