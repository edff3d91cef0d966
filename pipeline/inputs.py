"""Checks on the input data that must pass before any stage runs."""

from components.image_example_gen import sources
from pipeline.configs import ConfigError, PipelineConfig


def describe_input(config: PipelineConfig) -> sources.Source:
  """The source behind --data-dir, with at least two classes; ConfigError otherwise."""
  try:
    source = sources.describe(config.data_dir, config.classes)
  except sources.InputError as e:
    raise ConfigError(str(e)) from e
  if len(source.classes) < 2:
    raise ConfigError(f"{config.data_dir} needs at least two classes, found "
                      f"{len(source.classes)}{': ' + source.classes[0] if source.classes else ''}")
  return source
