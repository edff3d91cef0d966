"""Checks on the input data that must pass before any stage runs."""

import dataclasses
import os
from typing import List, Optional

from components.image_example_gen import files, sources
from components.image_example_gen.errors import InputError
from pipeline.configs import ConfigError, PipelineConfig
from schemas.settings import IMAGENET_WEIGHTS


def skip_dirs(config: PipelineConfig) -> List[str]:
  """Folders never listed as data: the output dir (when it lies inside the data dir, e.g.
  `--data-dir .` with the default output, the pipeline's own files would come back as a class)."""
  output_dir = config.output_dir
  return [output_dir if files.is_remote(output_dir) else os.path.abspath(output_dir)]


def describe_input(config: PipelineConfig) -> sources.Source:
  """The source behind --data-dir, with at least two classes; ConfigError otherwise."""
  try:
    source = sources.describe(config.data_dir, config.classes, skip_dirs(config))
  except InputError as e:
    raise ConfigError(str(e)) from e
  if len(source.classes) < 2:
    raise ConfigError(
      f"{config.data_dir} needs at least two classes, found "
      f"{len(source.classes)}{': ' + source.classes[0] if source.classes else ''}"
    )
  return source


def describe_inference(config: PipelineConfig) -> Optional[sources.Source]:
  """The source behind --infer-dir (None without one); ConfigError when it is not there."""
  if not config.infer_dir:
    return None
  try:
    return sources.describe_unlabelled(config.infer_dir, skip_dirs(config))
  except InputError as e:
    raise ConfigError(f"--infer-dir: {e}") from e


def resolve_weights(config: PipelineConfig) -> PipelineConfig:
  """ImageNet weights (--weights imagenet, the pretrained families' default) become the local
  file Keras fetches once into ~/.keras/models (a copy there is used without a network);
  ConfigError, before any stage runs, when it cannot be fetched: the message names the file,
  where to put it, and --weights none."""
  if config.initial_weights != IMAGENET_WEIGHTS:
    return config
  from trainer_module import model  # noqa: PLC0415  (TensorFlow/TFX behind it: loaded when used)

  try:
    return dataclasses.replace(
      config, weights=model.imagenet_weights(config.variant, config.model, config.image_size)
    )
  except model.WeightsUnavailable as e:
    raise ConfigError(str(e)) from e
