"""Imports without the garbage collector, then frozen out of its later collections."""

import gc
import importlib

import pytest

from pipeline import heavy_imports


@pytest.fixture(autouse=True)
def _collector_restored():
  enabled = gc.isenabled()
  yield
  (gc.enable if enabled else gc.disable)()


def _tracked(obj) -> bool:
  return any(o is obj for o in gc.get_objects())


def test_the_collector_is_off_inside_and_what_the_block_made_is_frozen():
  gc.enable()
  with heavy_imports.frozen():
    assert not gc.isenabled()
    made = [[]]  # a container: the collector tracks it
    assert _tracked(made)
  assert gc.isenabled()
  assert not _tracked(made)  # frozen: no collection walks it now
  after = [[]]
  assert _tracked(after)  # what comes after is collected as usual


def test_a_failing_import_still_restores_the_collector():
  gc.enable()
  with pytest.raises(ModuleNotFoundError):
    with heavy_imports.frozen():
      importlib.import_module("no_such_module_here")
  assert gc.isenabled()


def test_a_disabled_collector_stays_disabled():
  gc.disable()
  with heavy_imports.frozen():
    pass
  assert not gc.isenabled()
