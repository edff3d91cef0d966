"""Models trained once on real digits, shared by the tests that check, push, convert, explain
and query them."""

import pytest

from tests import training


@pytest.fixture(scope="session")
def digits_model(tmp_path_factory):
  """(raw Examples, Model, ModelRun) of a small CNN trained through the real executors."""
  return training.trained_digits(str(tmp_path_factory.mktemp("digits_model")))


@pytest.fixture(scope="session")
def digits_tflite(digits_model, tmp_path_factory):
  """(TFLiteModel artifact, parity report) of TFLiteExport's executor on digits_model."""
  return training.run_tflite_export(digits_model, str(tmp_path_factory.mktemp("digits_tflite")),
                                    blessed=1)
