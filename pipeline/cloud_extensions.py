"""TFX's v1 API imports its Google Cloud extensions (tfx.v1.extensions: google-cloud-aiplatform
and BigQuery, about 1.7 s of a local run's start-up) whenever anything imports tfx.v1, and a
local run never uses them. defer(), called before the first `from tfx import v1`, makes them load
on first use instead: tfx.v1.extensions is then a module that imports the real one when one of
its attributes is first read (pipeline/cloud.py does, for Vertex AI); its submodules import as
usual."""

import importlib
import importlib.util
import os
import sys
import types

NAME = "tfx.v1.extensions"


class _Deferred(types.ModuleType):
  """tfx.v1.extensions until one of its attributes is read: then the real module."""

  def __getattr__(self, name: str):
    if sys.modules.get(NAME) is self:
      del sys.modules[NAME]
    real = importlib.import_module(NAME)
    parent = sys.modules.get(NAME.rpartition(".")[0])
    if parent is not None:
      parent.extensions = real
    return getattr(real, name)


def defer() -> None:
  """Installs the deferred tfx.v1.extensions, unless tfx.v1 is already imported."""
  if NAME in sys.modules or "tfx.v1" in sys.modules:
    return
  tfx = importlib.util.find_spec("tfx")  # the package alone: its __init__ imports nothing heavy
  if tfx is None or not tfx.submodule_search_locations:
    return
  folder = os.path.join(tfx.submodule_search_locations[0], "v1", "extensions")
  spec = importlib.util.spec_from_file_location(
    NAME, os.path.join(folder, "__init__.py"), submodule_search_locations=[folder]
  )
  module = _Deferred(NAME, "TFX extensions module (imported on first use).")
  module.__spec__, module.__path__, module.__file__ = spec, [folder], spec.origin
  sys.modules[NAME] = module
