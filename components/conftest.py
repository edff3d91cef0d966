"""A model trained once on real digits, for the component tests that check and push it."""

import pytest

from tests import training


@pytest.fixture(scope="session")
def digits_model(tmp_path_factory):
  """(raw Examples, Model, ModelRun) of a small CNN trained through the real executors."""
  return training.trained_digits(str(tmp_path_factory.mktemp("digits_model")))
