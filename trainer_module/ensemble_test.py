"""Ensembles: which members a config trains, usage errors, and the combined model."""

import os

import keras
import numpy as np
import pytest

from schemas.features import IMAGE_XF
from tests import images
from trainer_module import ensemble
from trainer_module.config import TrainingConfig
from trainer_module.model import build_model


def test_members_are_copies_of_the_model_or_the_named_architectures_with_rising_seeds():
  assert ensemble.members(TrainingConfig()) == [ensemble.Member("cnn", 0)]
  assert ensemble.members(TrainingConfig(ensemble=3, seed=7)) == [
    ensemble.Member("cnn", 7),
    ensemble.Member("cnn", 8),
    ensemble.Member("cnn", 9),
  ]
  config = TrainingConfig(ensemble_models=["cnn", "efficientnet"], model="efficientnet")
  assert [m.record() for m in ensemble.members(config)] == [
    {"model": "cnn", "seed": 0},
    {"model": "efficientnet", "seed": 1},
  ]


@pytest.mark.parametrize(
  "ensemble_n,models,tune,error",
  [
    (1, [], False, None),
    (1, [], True, None),
    (2, [], False, None),
    (2, ["cnn", "efficientnet"], False, None),
    (1, ["cnn", "cnn", "cnn"], False, None),
    (1, ["cnn"], False, "at least two"),
    (3, ["cnn", "cnn"], False, "disagree"),
    (2, [], True, "--tune"),
    (1, ["cnn", "cnn"], True, "--tune"),
  ],
)
def test_usage_errors(ensemble_n, models, tune, error):
  found = ensemble.usage_error(ensemble_n, models, tune)
  assert (found is None) if error is None else (error in found), found


def test_the_combined_model_averages_its_members_and_survives_a_save(tmp_path):
  members = []
  for seed in (0, 1):
    keras.utils.set_random_seed(seed)
    members.append(build_model("cnn", 8, 1, 10, width=4))
  combined = ensemble.combine(members)
  assert combined.name == "ensemble" and combined.inputs[0].name == IMAGE_XF
  pixels = np.stack([p for p, _ in images.digit_pixels(16)]).astype(np.float32)
  alone = [np.asarray(m({IMAGE_XF: pixels})) for m in members]
  assert not np.allclose(alone[0], alone[1])  # different seeds, different members
  np.testing.assert_allclose(np.asarray(combined({IMAGE_XF: pixels})), np.mean(alone, axis=0))
  path = os.path.join(tmp_path, "model.keras")
  combined.save(path)
  loaded = keras.models.load_model(path)
  found = ensemble.member_models(loaded)
  assert [m.name for m in found] == ["member_1", "member_2"]
  for member, expected in zip(found, alone):
    np.testing.assert_allclose(np.asarray(member({IMAGE_XF: pixels})), expected, rtol=1e-5)
  assert ensemble.member_models(members[0]) == []  # a single model has no members
