"""local_runner.py's command line as a user types it: shared by the tests and the benchmarks."""

import os
import sys
from typing import List

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # where to run it


def local_runner_command(data_dir: str, output_dir: str, name: str, *flags: str) -> List[str]:
  """local_runner.py on data_dir, its outputs in output_dir, pipeline `name`, then `flags`."""
  return [
    sys.executable,
    os.path.join(ROOT, "local_runner.py"),
    "--data-dir",
    data_dir,
    "--output-dir",
    output_dir,
    "--pipeline-name",
    name,
    *flags,
  ]
