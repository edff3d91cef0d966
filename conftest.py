"""Test tiers, and models trained once on real digits, shared by the tests that check, push,
convert, explain and query them."""

import gc
import os
import subprocess
import sys

import pytest

# The test modules' imports (TensorFlow, TFX, Beam) without the garbage collector, then frozen
# out of its later collections (pytest_collection_finish): pipeline/heavy_imports.py says why.
gc.disable()

from tests import training  # noqa: E402  (after gc.disable)

# Test tiers: `unit` (the default: no Beam, no TFX executor, no training, no subprocess, no
# Keras fit / evaluate / predict loop), `integration` (marked per module or test) and `e2e`. A
# unit test that does any of those fails; calling a model, model(x), is fine.
_TIERS = ("unit", "integration", "e2e")


# Fixtures that run Beam or train: their users are integration.
_TRAINED = {"digits_model", "digits_tflite", "digits_transformed"}


# Run first, longest first: under pytest-xdist's file-by-file schedule in collection order (the
# Makefile's e2e tier: --no-loadscope-reorder; xdist's own order puts the files with fewest tests,
# these, last) they start at once, instead of last while the other worker idles.
_LONGEST_FIRST = (
  "tests/spec_runner_e2e_test.py",  # the compiled spec's task processes, three days
  "tests/mobilenet_e2e_test.py",
  "tests/schedule_e2e_test.py",
)


def run_order(nodeid: str) -> int:
  """Where a test's file goes in the run: _LONGEST_FIRST's files first, in that order; the
  others after them, as collected (a stable sort)."""
  path = nodeid.split("::")[0]
  return _LONGEST_FIRST.index(path) if path in _LONGEST_FIRST else len(_LONGEST_FIRST)


# Settings the quiet-console tests' subprocesses inherit: importing a test module (say, one that
# imports a benchmark or a runner) must not change them for every later test.
_INHERITED = ("TF_CPP_MIN_LOG_LEVEL", "GRPC_VERBOSITY")
_ENVIRONMENT = {name: os.environ.get(name) for name in _INHERITED}


def pytest_collection_finish(session):  # noqa: ARG001  (pytest's hook signature)
  gc.freeze()
  gc.enable()
  changed = [n for n in _INHERITED if os.environ.get(n) != _ENVIRONMENT[n]]
  if changed:
    raise pytest.UsageError(
      f"importing the test modules set {', '.join(changed)}: set it in the module's main()"
    )


def pytest_collection_modifyitems(items):
  for item in items:
    if not any(item.get_closest_marker(tier) for tier in _TIERS):
      trained = _TRAINED & set(getattr(item, "fixturenames", ()))
      item.add_marker(pytest.mark.integration if trained else pytest.mark.unit)
  items.sort(key=lambda item: run_order(item.nodeid))


def _refuse(what):
  def refuse(*args, **kwargs):
    raise RuntimeError(f"a unit test may not {what}: mark it integration")

  return refuse


def _guards():
  """(owner, attribute, what) a unit test may not call, of the modules imported so far."""

  found = [(subprocess.Popen, "__init__", "start a subprocess")]
  for module, owner, attribute, what in (
    ("apache_beam", "Pipeline", "run", "run a Beam pipeline"),
    ("tfx.dsl.components.base.base_executor", "BaseExecutor", "__init__", "run a TFX executor"),
    ("keras", "Model", "fit", "train a model"),
    ("keras", "Model", "train_on_batch", "train a model"),
    ("keras", "Model", "evaluate", "run a Keras evaluate loop"),
    ("keras", "Model", "test_on_batch", "run a Keras evaluate loop"),
    ("keras", "Model", "predict", "run a Keras predict loop (call the model instead: model(x))"),
  ):
    if module in sys.modules:
      found.append((getattr(sys.modules[module], owner), attribute, what))
  return found


_RESTORE = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
  """From a unit test's fixtures (module-scoped ones included) to its teardown, the guards."""
  if item.get_closest_marker("unit"):
    for owner, attribute, what in _guards():
      _RESTORE.append((owner, attribute, owner.__dict__.get(attribute)))  # None: inherited
      setattr(owner, attribute, _refuse(what))
  yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):  # noqa: ARG001  (pytest's hook signature)
  yield
  while _RESTORE:
    owner, attribute, original = _RESTORE.pop()
    if original is None:
      delattr(owner, attribute)
    else:
      setattr(owner, attribute, original)


@pytest.fixture(scope="session")
def digits_transformed(tmp_path_factory):
  """(transformed Examples, TransformGraph) of real digits at 32x32x1, digit 0 three times as
  frequent as the others (training.PER_CLASS), through ImageExampleGen's and Transform's
  executors: what the Trainer and Tuner tests train on."""
  work = tmp_path_factory.mktemp("digits_transformed")
  data_dir = training.digits_tree(str(work / "digits"), training.PER_CLASS)
  return training.ingest_and_transform(data_dir, str(work), image_size=32, channels=1)


@pytest.fixture(scope="session")
def digits_model(tmp_path_factory):
  """(raw Examples, Model, ModelRun) of a small CNN trained through the real executors."""
  return training.trained_digits(str(tmp_path_factory.mktemp("digits_model")))


@pytest.fixture(scope="session")
def digits_tflite(digits_model, tmp_path_factory):
  """(TFLiteModel artifact, parity report) of TFLiteExport's executor on digits_model."""
  return training.run_tflite_export(
    digits_model, str(tmp_path_factory.mktemp("digits_tflite")), blessed=1
  )
