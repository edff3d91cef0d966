"""Command-line tools without TensorFlow's native start-up lines on stderr (--verbose keeps
them); --help without TensorFlow at all."""

import os
import subprocess
import sys

import pytest

from pipeline import quiet
from tests import runs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# As TensorFlow 2.21, absl and TensorFlow Lite write them (seen on this project's machines).
NATIVE = [
  "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
  "I0000 00:00:1796537627.215123   22156 cudart_stub.cc:31] Could not find cuda drivers on "
  "your machine, GPU will not be used.",
  "E0000 00:00:1796537643.972550   22209 cuda_platform.cc:52] failed call to cuInit: INTERNAL: "
  "CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)",
  "I0000 00:00:1796538929.265188    9771 cpu_feature_guard.cc:227] This TensorFlow binary is "
  "optimized to use available CPU instructions in performance-critical operations.",
  "2024-05-01 10:00:00.123456: I tensorflow/core/util/port.cc:113] oneDNN custom operations "
  "are on. You may see slightly different numerical results due to floating-point round-off.",
  "W0501 10:00:00.123456  4242 gpu_device.cc:2344] Cannot dlopen some GPU libraries.",
  "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
]
OWN = [
  "error: --model x: not a pushed version",
  "photos/a.png: error: truncated_file",
  "/x/keras/functional.py:259: UserWarning: The structure of `inputs` doesn't match",
  "WARNING:absl:a Python logging line",
  "Traceback (most recent call last):",
]


@pytest.mark.parametrize("line", NATIVE)
def test_native_lines_are_recognized(line):
  assert quiet.is_native_line(line + "\n")


@pytest.mark.parametrize("line", OWN)
def test_other_lines_are_not(line):
  assert not quiet.is_native_line(line + "\n")


def _write(lines):
  os.write(2, "".join(line + "\n" for line in lines).encode())


def test_the_block_drops_native_lines_and_keeps_the_rest_in_order(capfd):
  with quiet.native_lines_dropped():
    _write([NATIVE[0], NATIVE[1], OWN[2], NATIVE[2], OWN[0]])
  assert capfd.readouterr().err == f"{OWN[2]}\n{OWN[0]}\n"
  _write([NATIVE[1]])  # fd 2 is back
  assert capfd.readouterr().err == NATIVE[1] + "\n"


def test_what_explains_a_failure_is_kept(capfd):
  with pytest.raises(ImportError):
    with quiet.native_lines_dropped():
      _write([NATIVE[1], "ImportError: libcudart.so.12: cannot open shared object file"])
      raise ImportError("libcudart.so.12")
  assert capfd.readouterr().err == "ImportError: libcudart.so.12: cannot open shared object file\n"


def test_once_tensorflow_is_imported_nothing_changes(monkeypatch):
  import tensorflow as tf  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)

  monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
  assert quiet.import_tensorflow() is tf
  assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ  # too late to matter: not set


def _python(*args, env=None):
  return subprocess.run(
    [sys.executable, *args],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=300,
    env={**os.environ, **(env or {})},
  )


@pytest.mark.integration
@pytest.mark.parametrize("command", [["kubeflow_runner.py"], ["-m", "pipeline.predict"]])
def test_help_prints_usage_and_nothing_on_stderr_without_importing_tensorflow(command):
  env = {"TF_CPP_MIN_LOG_LEVEL": "0"}  # TensorFlow would speak: it must not be started
  result = _python(*command, "--help", env=env)
  assert result.returncode == 0 and result.stdout.startswith("usage: ")
  assert "--verbose" in result.stdout
  assert result.stderr == ""
  # The same without the help: had TensorFlow been imported, it would be in sys.modules.
  script = (
    "import runpy, sys; sys.argv = ['x', '--help']\n"
    "try:\n"
    f"  runpy.{'run_path' if command[0].endswith('.py') else 'run_module'}"
    f"({command[-1]!r}, run_name='__main__')\n"
    "except SystemExit:\n"
    "  pass\n"
    "print('tensorflow' in sys.modules, 'tfx' in sys.modules, file=sys.stderr)\n"
  )
  assert _python("-c", script).stderr == "False False\n"


@pytest.mark.integration
def test_a_quiet_tensorflow_says_nothing_and_a_verbose_one_its_native_lines():
  script = (
    "import sys\n"
    "from pipeline import quiet\n"
    "tf = quiet.import_tensorflow(verbose=sys.argv[1] == '1')\n"
    "print(int(tf.constant(1) + 1))\n"  # the first op: device probes (cuInit)
  )
  result = _python("-c", script, "0")
  assert (result.returncode, result.stdout, result.stderr) == (0, "2\n", "")
  # What it left out: with everything logged, TensorFlow's own lines (which vary by machine:
  # CUDA probes on a CPU machine, the devices it created on a GPU one).
  loud = _python("-c", script, "1", env={"TF_CPP_MIN_LOG_LEVEL": "0"})
  assert loud.returncode == 0 and any(map(quiet.is_native_line, loud.stderr.splitlines()))


@pytest.mark.integration
def test_a_compile_prints_its_one_line_and_nothing_on_stderr(tmp_path):
  result = runs.compile_spec(tmp_path / "pipeline.json", num_classes=3)
  assert result.returncode == 0, result.stderr[-3000:]
  assert (
    result.stdout == f"[kubeflow_runner] pipeline spec written to {tmp_path / 'pipeline.json'}\n"
  )
  assert result.stderr == ""
