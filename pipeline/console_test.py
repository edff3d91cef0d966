"""The console: noise to the run's log, people's lines to stdout, errors to the real stderr."""

import importlib
import inspect
import logging
import os
import re
import subprocess
import sys
import textwrap

import pytest
from absl import logging as absl_logging

from pipeline import console

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = textwrap.dedent("""
    import logging, os, sys, time, warnings
    from absl import logging as absl_logging
    from pipeline import console
    console.HEARTBEAT = 1  # Transform is a Beam stage: it gets a line a second
    absl_logging.set_verbosity(absl_logging.INFO)
    with console.Console(sys.argv[1], verbose=sys.argv[2] == "1") as out:
      os.write(2, b"E0000 cuda_platform.cc:52] failed call to cuInit\\n")  # native noise
      logging.warning("a deprecation warning from some library")
      warnings.warn("shuffle=True was passed, but will be ignored")
      absl_logging.info("Component Transform is running.")
      time.sleep(2.5)
      absl_logging.info("Component Transform is finished.")
      print("[Trainer] epoch 1/1: loss 0.1", flush=True)
      out.error("error: something the user must see")
    print("after the run", file=sys.stderr, flush=True)
""")


def _run(tmp_path, verbose):
  log = tmp_path / "logs" / "run.log"
  result = subprocess.run(
    [sys.executable, "-c", SCRIPT, str(log), "1" if verbose else "0"],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=120,
  )
  assert result.returncode == 0, result.stderr
  return result, log.read_text() if log.exists() else ""


@pytest.mark.integration
def test_noise_goes_to_the_log_and_stages_to_the_console(tmp_path):
  result, log = _run(tmp_path, verbose=False)
  lines = result.stdout.splitlines()
  assert lines[0] == "[pipeline] Transform ..." and lines[-1] == "[Trainer] epoch 1/1: loss 0.1"
  assert re.fullmatch(r"\[pipeline\] Transform done in 2\.\d s", lines[-2])
  beats = lines[1:-2]  # while the stage ran, one line a (1 s) heartbeat
  assert 1 <= len(beats) <= 3
  assert all(re.fullmatch(r"\[pipeline\] Transform: running for \d s", b) for b in beats)
  assert result.stderr.splitlines() == ["error: something the user must see", "after the run"]
  for noise in (
    "cuInit",
    "a deprecation warning",
    "shuffle=True",
    "Component Transform is",
    "error: something the user must see",
  ):
    assert noise in log


@pytest.mark.integration
def test_verbose_shows_everything(tmp_path):
  result, _ = _run(tmp_path, verbose=True)
  assert "cuInit" in result.stderr and "a deprecation warning" in result.stderr
  assert "[pipeline] Transform done in 2." in result.stdout


# The calls of TFX 1.21 whose records the console reads, as they are in its source.
TFX_CALLS = {
  "tfx.orchestration.local.local_dag_runner": (
    "logging.info('Component %s is running.', node_id)",
    "logging.info('Component %s is finished.', node_id)",
  ),
  "tfx.orchestration.portable.launcher": (
    "logging.info('A cached execution %d is used.', execution.id)",
  ),
}


def test_tfx_still_logs_what_the_console_reads():

  for module, calls in TFX_CALLS.items():
    source = inspect.getsource(importlib.import_module(module))
    assert "from absl import logging" in source, module
    for call in calls:
      assert call in source, (module, call)


@pytest.fixture
def stages():
  """The console's reader of TFX's records on the absl logger, at INFO, as in a run."""
  handler = console._Stages()  # noqa: SLF001  (the log handler under test)
  logger = logging.getLogger("absl")
  verbosity = absl_logging.get_verbosity()
  logger.addHandler(handler)
  absl_logging.set_verbosity(absl_logging.INFO)
  try:
    yield handler
  finally:
    logger.removeHandler(handler)
    absl_logging.set_verbosity(verbosity)


def test_a_cached_stage_says_cached_and_a_run_one_its_seconds(stages, capsys):
  # The records TFX's calls above make, in a run's order.
  absl_logging.info("Component %s is running.", "Transform")
  absl_logging.info("A cached execution %d is used.", 7)
  absl_logging.info("Component %s is finished.", "Transform")
  absl_logging.info("Component %s is running.", "Trainer")
  absl_logging.info("Going to run a new execution %d", 8)
  absl_logging.info("Component %s is finished.", "Trainer")
  absl_logging.info("Component %s is running.", "latest_blessed_model_resolver")
  absl_logging.info("A cached execution %d is used.", 9)
  absl_logging.info("Component %s is finished.", "latest_blessed_model_resolver")
  absl_logging.info("Component %s is running.", "Evaluator")
  absl_logging.info("Component %s is finished.", "Evaluator")
  lines = capsys.readouterr().out.splitlines()
  assert lines[:3] == [
    "[pipeline] Transform ...",
    "[pipeline] Transform (cached)",
    "[pipeline] Trainer ...",
  ]
  assert re.fullmatch(r"\[pipeline\] Trainer done in \d+\.\d s", lines[3])
  # A resolver says nothing, and its cache hit is not the next stage's.
  assert lines[4] == "[pipeline] Evaluator ..."
  assert re.fullmatch(r"\[pipeline\] Evaluator done in \d+\.\d s", lines[5]) and len(lines) == 6
