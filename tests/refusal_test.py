"""Usage errors refused before anything is imported or created: local_runner.py,
kubeflow_runner.py and pipeline.report exit 2 with one line, leave no output dir, log or summary
behind, and never import TensorFlow, TFX or Beam to say so. (How fast: BENCHMARKS.md,
"Refusals".)"""

import json
import os
import subprocess
import sys

import pytest

import kubeflow_runner
import local_runner
from pipeline import report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEAVY = ("tensorflow", "tfx", "apache_beam", "keras")


@pytest.fixture
def where(tmp_path):
  """(a file, a missing path, the output dir to be left alone) under tmp_path."""
  (tmp_path / "notes.txt").write_text("x")
  return tmp_path / "notes.txt", tmp_path / "missing", tmp_path / "out"


def _local_cases(file, missing):
  return [
    (["--data-dir", str(missing)], f"--data-dir {missing} does not exist"),
    (["--data-dir", str(file)], f"--data-dir {file} is not a folder or a .csv manifest"),
    (["--data-dir", f"{missing}.csv"], f"--data-dir {missing}.csv does not exist"),
    (["--infer-dir", str(missing)], f"--infer-dir {missing} does not exist"),
    (
      ["--model", "efficientnet", "--weights", f"{missing}.h5"],
      f"--weights {missing}.h5 does not exist",
    ),
    (["--classes", ","], "argument --classes: names no class: ','"),
  ]


def _one_error_line(capsys, message):
  assert capsys.readouterr().err == f"error: {message}\n"


def test_local_runner_refuses_before_it_takes_the_output_dir(where, capsys):
  file, missing, out = where
  for argv, message in _local_cases(file, missing):
    assert local_runner.main([*argv, "--output-dir", str(out)]) == 2, argv
    _one_error_line(capsys, message)
    assert not out.exists(), argv
  assert local_runner.main(["--output-dir", str(file)]) == 2
  _one_error_line(capsys, f"--output-dir {file} is not a folder")
  assert local_runner.main(["--output-dir", str(file / "out")]) == 2
  _one_error_line(capsys, f"--output-dir {file / 'out'}: {file} is not a folder")


def test_kubeflow_runner_refuses_before_it_compiles(where, capsys):
  file, missing, out = where
  spec = out / "p.json"
  for argv, message in _local_cases(file, missing):
    argv = [*argv, "--compile", str(spec), "--output-dir", str(out)]
    assert kubeflow_runner.main(["--data-dir", str(out.parent), *argv]) == 2, argv
    _one_error_line(capsys, message)
    assert not out.exists(), argv


def test_report_refuses_an_output_dir_without_runs(where, capsys):
  file, missing, _ = where
  for argv, message in (
    (["--output-dir", str(missing)], f"--output-dir {missing} does not exist"),
    (["--output-dir", str(file)], f"--output-dir {file} is not a folder"),
    (
      ["--output-dir", str(file.parent)],
      f"{file.parent} holds no pipeline runs: {file.parent / 'metadata.db'} does not exist",
    ),
  ):
    assert report.main(argv) == 2
    _one_error_line(capsys, message)
  assert sorted(os.listdir(file.parent)) == ["notes.txt"]  # no logs/


def test_report_on_a_corrupt_metadata_store_is_one_line_naming_the_file(tmp_path, capsys):
  store = tmp_path / "metadata.db"
  store.write_text("this is not a SQLite database\n" * 100)
  assert report.main(["--output-dir", str(tmp_path)]) == 2
  err = capsys.readouterr().err
  lines = [line for line in err.splitlines() if line.strip()]
  assert len(lines) == 1 and "Traceback" not in err and "SELECT" not in err, err
  assert lines[0].startswith(
    f"error: {store} is not a readable metadata store (not an SQLite database): move it away, "
    "or choose another --output-dir, to start afresh (details: "
  ), err
  assert store.read_text().startswith("this is not")  # left as it was


def _refused(command, argv, cwd):
  """(exit status, stderr, heavy modules imported) of `command` run as a user runs it. The
  modules are listed by an exit handler: the tools end with console.exit_now, which runs the
  exit handlers and then os._exit."""
  script = (
    "import atexit, json, runpy, sys\n"
    f"sys.argv = ['x', *{argv!r}]\n"
    f"heavy = {HEAVY!r}\n"
    "atexit.register(lambda: print(json.dumps([m for m in heavy if m in sys.modules])))\n"
    f"runpy.{'run_path' if command.endswith('.py') else 'run_module'}"
    f"({command!r}, run_name='__main__')\n"
  )
  result = subprocess.run(
    [sys.executable, "-c", script],
    cwd=cwd,
    capture_output=True,
    text=True,
    timeout=300,
    env={**os.environ, "PYTHONPATH": ROOT},
  )
  imported = json.loads(result.stdout.strip().splitlines()[-1])
  return result.returncode, result.stderr, imported


@pytest.mark.integration
@pytest.mark.parametrize(
  "command",
  [os.path.join(ROOT, "local_runner.py"), os.path.join(ROOT, "kubeflow_runner.py")],
  ids=["local_runner", "kubeflow_runner"],
)
def test_a_missing_data_dir_is_refused_without_tensorflow_and_leaves_nothing(command, tmp_path):
  missing = tmp_path / "missing"
  argv = ["--data-dir", str(missing), "--output-dir", "out", "--compile", "out/p.json"]
  if command.endswith("local_runner.py"):
    argv = argv[:4]
  status, stderr, imported = _refused(command, argv, cwd=tmp_path)
  assert (status, stderr, imported) == (2, f"error: --data-dir {missing} does not exist\n", [])
  assert os.listdir(tmp_path) == []  # no out/, logs/, runs/, run_summary.json


@pytest.mark.integration
def test_report_on_a_missing_output_dir_is_refused_without_tensorflow(tmp_path):
  status, stderr, imported = _refused("pipeline.report", ["--output-dir", "out"], cwd=tmp_path)
  assert (status, stderr, imported) == (2, "error: --output-dir out does not exist\n", [])
  assert os.listdir(tmp_path) == []
