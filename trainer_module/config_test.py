"""TrainingConfig: the one home of the training settings, shared by the pipeline and Trainer."""

import dataclasses

import pytest
import tensorflow as tf

from pipeline import configs
from schemas import settings
from trainer_module import augmentation, cache, class_weights, model, preprocessing
from trainer_module import config as config_module
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


def test_the_trainer_refuses_a_variant_or_weights_that_do_not_fit_the_model():
  with pytest.raises(ValueError, match="--model-variant b1 does not apply to --model mobilenet"):
    TrainingConfig.from_custom_config({"model": "mobilenet", "model_variant": "b1"})
  with pytest.raises(ValueError, match="--weights applies to --model efficientnet or mobilenet"):
    TrainingConfig.from_custom_config({"model": "cnn", "weights": "/w.h5"})
  assert (
    TrainingConfig.from_custom_config({"model": "cnn", "weights": "none"}).initial_weights is None
  )
  config = TrainingConfig.from_custom_config({"model": "mobilenet", "model_variant": "v3small"})
  assert config.variant == "v3small"


def test_an_unknown_key_is_an_error_but_tfx_vertex_keys_are_left_to_tfx():
  with pytest.raises(ValueError, match="unknown training setting\\(s\\): image_size, lr$"):
    TrainingConfig.from_custom_config({"lr": 0.1, "image_size": 32, "epochs": 2})
  config = TrainingConfig.from_custom_config(
    {"epochs": 2.0, "learning_rate": 1, "ai_platform_training_args": {"project": "p"}}
  )
  assert (config.epochs, config.learning_rate) == (2, 1.0)
  assert isinstance(config.epochs, int) and isinstance(config.learning_rate, float)


def test_a_value_out_of_bounds_or_choices_is_an_error():
  with pytest.raises(ValueError, match="--epochs must be at least 1, got 0"):
    TrainingConfig.from_custom_config({"epochs": 0})
  with pytest.raises(ValueError, match="--cache must be one of auto, memory, disk, none"):
    TrainingConfig.from_custom_config({"cache": "ram"})
  with pytest.raises(ValueError, match="--augment: unknown cutout"):
    TrainingConfig.from_custom_config({"augment": ["flip", "cutout"]})


def test_allowed_values_are_exactly_what_the_trainer_implements():
  """The flags offer constants' tuples; each names a registry entry or branch, both ways."""
  assert tuple(model.EFFICIENTNETS) == settings.EFFICIENTNET_VARIANTS
  assert tuple(model.MOBILENETS) == settings.MOBILENET_VARIANTS
  assert tuple(model.BUILDERS) == settings.MODELS
  assert {m: tuple(b) for m, b in model.BACKBONES.items()} == settings.MODEL_VARIANTS
  assert tuple(augmentation.LAYERS) == settings.PIXEL_AUGMENTATIONS
  assert tuple(augmentation.MIXERS) == settings.MIXING_AUGMENTATIONS
  assert augmentation.NAMES == settings.AUGMENTATIONS
  assert tuple(config_module.PRESETS) == settings.RECIPES
  # Each cache mode is a placement of its own; anything else is refused.
  placements = {
    mode: cache.choose(mode, {"train": 10}, [8, 8, 1], "/c", budget=1 << 20)[0]["train"]
    for mode in settings.CACHE_MODES
  }
  assert placements == {"auto": "memory", "memory": "memory", "disk": "/c/train", "none": "none"}
  with pytest.raises(ValueError, match="cache must be one of"):
    cache.choose("ram", {"train": 10}, [8, 8, 1], "/c")
  # Each class-weight mode decides differently on balanced counts; anything else is refused.
  balanced = {0: 10, 1: 10}
  weights = {
    mode: class_weights.class_weights(balanced, mode) for mode in settings.CLASS_WEIGHT_MODES
  }
  assert weights == {"auto": None, "balanced": {0: 1.0, 1: 1.0}, "none": None}
  assert class_weights.class_weights({0: 30, 1: 10}, "auto") == {0: 40 / 60, 1: 2.0}
  with pytest.raises(ValueError, match="class weights mode must be one of"):
    class_weights.class_weights(balanced, "inverse")
  for name in settings.MODELS:
    assert model.build_model(name, 32, 3, 2).output_shape == (None, 2)
  with pytest.raises(ValueError, match="unknown model"):
    model.build_model("resnet", 32, 3, 2)
  image = tf.zeros([20, 30, 3])
  for mode in settings.RESIZE_MODES:
    assert preprocessing.resize(image, 8, mode).shape == (8, 8, 3)
  with pytest.raises(ValueError, match="resize mode"):
    preprocessing.resize(image, 8, "stretch")
