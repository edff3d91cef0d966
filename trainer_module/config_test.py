"""TrainingConfig: the one home of the training settings, shared by the pipeline and Trainer."""

import dataclasses

import pytest

from pipeline import configs
from trainer_module.config import TrainingConfig


def test_the_pipeline_config_sends_exactly_the_training_settings():
  config = configs.PipelineConfig(epochs=3, dropout=0.1, fine_tune_epochs=0, image_size=64)
  sent = config.custom_config()
  assert set(sent) == {f.name for f in dataclasses.fields(TrainingConfig)}
  assert "image_size" not in sent and "channels" not in sent  # Transform's, not the Trainer's
  assert TrainingConfig.from_custom_config(sent) == TrainingConfig(
    epochs=3, dropout=0.1, fine_tune_epochs=0
  )


def test_defaults_are_declared_once():
  """A caller that leaves a key out gets the pipeline's default, not another one."""
  received = TrainingConfig.from_custom_config({})
  pipeline = configs.PipelineConfig()
  for field in dataclasses.fields(TrainingConfig):
    assert getattr(received, field.name) == getattr(pipeline, field.name), field.name


def test_an_unknown_key_is_an_error_but_tfx_vertex_keys_are_left_to_tfx():
  with pytest.raises(ValueError, match="unknown training setting\\(s\\): image_size, lr$"):
    TrainingConfig.from_custom_config({"lr": 0.1, "image_size": 32, "epochs": 2})
  config = TrainingConfig.from_custom_config(
    {"epochs": 2.0, "learning_rate": 1, "ai_platform_training_args": {"project": "p"}}
  )
  assert (config.epochs, config.learning_rate) == (2, 1.0)
  assert isinstance(config.epochs, int) and isinstance(config.learning_rate, float)
