"""Checks on the input data that must pass before any stage runs."""

from typing import List

import tensorflow as tf

from pipeline.configs import ConfigError


def list_classes(data_dir: str) -> List[str]:
  """The class folders of a class-folder tree that hold at least one entry.

  Raises ConfigError when the tree is missing, or has fewer than two non-empty classes.
  """
  if not tf.io.gfile.isdir(data_dir):
    raise ConfigError(f"--data-dir {data_dir} is not a folder")
  classes, empty = [], []
  for name in sorted(tf.io.gfile.listdir(data_dir)):
    name = name.rstrip("/")
    path = tf.io.gfile.join(data_dir, name)
    if name.startswith(".") or not tf.io.gfile.isdir(path):
      continue
    (classes if tf.io.gfile.listdir(path) else empty).append(name)
  if empty:
    raise ConfigError(f"empty class folder(s) in {data_dir}: {', '.join(empty)}")
  if len(classes) < 2:
    raise ConfigError(f"{data_dir} needs at least two class sub-folders, found "
                      f"{len(classes)}{': ' + classes[0] if classes else ''}")
  return classes
