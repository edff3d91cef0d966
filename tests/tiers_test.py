"""conftest.py's tier guard: a unit test that trains, runs a Keras evaluate or predict loop,
Beam, a TFX executor or a subprocess fails; calling the model is allowed."""

import os
import subprocess
import sys
import tomllib

import keras
import numpy as np
import pytest

import conftest

LOOPS = ("fit", "train_on_batch", "evaluate", "test_on_batch", "predict")


def _tiny():
  model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
  model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
  return model


def test_the_guard_covers_every_keras_loop_and_the_rest():
  guards = conftest._guards()  # noqa: SLF001  (the guard list under test)
  guarded = {(owner, attribute) for owner, attribute, _ in guards}
  assert {(keras.Model, loop) for loop in LOOPS} <= guarded
  assert (subprocess.Popen, "__init__") in guarded


@pytest.mark.parametrize("loop", LOOPS)
def test_a_unit_test_cannot_run_a_keras_loop_but_may_call_the_model(loop):
  model = _tiny()
  x, y = np.ones((4, 3), np.float32), np.zeros(4, np.int64)
  args = {"fit": (x, y), "train_on_batch": (x, y), "evaluate": (x, y), "test_on_batch": (x, y)}
  with pytest.raises(RuntimeError, match="a unit test may not .*: mark it integration"):
    getattr(model, loop)(*args.get(loop, (x,)))
  assert model(x).shape == (4, 2)  # predicting by calling the model is fine


def test_a_unit_test_cannot_start_a_subprocess():
  with pytest.raises(RuntimeError, match="a unit test may not start a subprocess"):
    subprocess.run([sys.executable, "-c", "pass"], check=False)


@pytest.mark.integration
def test_an_integration_test_may_and_the_guard_is_lifted_after_each_unit_test():
  model = _tiny()
  x = np.ones((4, 3), np.float32)
  assert model.predict(x, verbose=0).shape == (4, 2)
  assert "predict" not in keras.Model.__dict__  # the inherited method is back


def test_every_test_file_is_under_a_testpath_that_make_test_collects():
  """pytest collects only pyproject.toml's testpaths: a package left out has tests that never run
  (reporting/'s did not, for a day)."""
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  with open(os.path.join(root, "pyproject.toml"), "rb") as f:
    testpaths = tomllib.load(f)["tool"]["pytest"]["ini_options"]["testpaths"]
  skipped = {".venv", ".git", "build", "tfx_output", "node_modules"}
  outside = []
  for folder, folders, files in os.walk(root):
    folders[:] = [d for d in folders if d not in skipped and not d.startswith(".")]
    relative = os.path.relpath(folder, root)
    for name in files:
      if name.endswith("_test.py") and relative.split(os.sep)[0] not in testpaths:
        outside.append(os.path.join(relative, name))
  assert not outside, f"test files pytest never collects: {outside}"


def test_the_longest_e2e_files_run_first_and_make_keeps_that_order():
  """xdist's default order puts the files with fewest tests last; these one-test files are the
  tier's longest, so the e2e tier keeps conftest.py's order (--no-loadscope-reorder)."""
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  for path in conftest._LONGEST_FIRST:  # noqa: SLF001  (the list under test)
    assert os.path.isfile(os.path.join(root, path)), path
  spec, mobilenet = conftest._LONGEST_FIRST[:2]  # noqa: SLF001
  collected = ["tests/a_test.py::t", f"{mobilenet}::t", "tests/b_test.py::t", f"{spec}::t"]
  assert sorted(collected, key=conftest.run_order) == [
    f"{spec}::t",
    f"{mobilenet}::t",
    "tests/a_test.py::t",
    "tests/b_test.py::t",
  ]
  with open(os.path.join(root, "Makefile")) as f:
    makefile = f.read()
  assert "E2E_ORDER := --no-loadscope-reorder" in makefile
  e2e = [line for line in makefile.splitlines() if "pytest -m e2e" in line]
  assert e2e and all("$(E2E_ORDER)" in line for line in e2e)
