"""How fast a usage error is refused: a --data-dir that does not exist for local_runner.py and
kubeflow_runner.py, and an --output-dir that does not exist for `python -m pipeline.report` (it
takes no --data-dir), each run as a user runs it, in a fresh process in an empty folder.

  python -m benchmarks.refusal_benchmark [--repeats 7] [--before DIR]

Each refusal must exit 2 with an error line on stderr; this checkout's must also leave its folder
empty. `--before DIR` times the same commands in another checkout too, in the same sitting
(e.g. `mkdir DIR && git archive 0e097b5 | tar -x -C DIR`), and names what each left behind. The
median (min–max) of the wall seconds go to BENCHMARKS.md.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional, Tuple

from benchmarks.report import machine, spread, write_section

SECTION = "## Refusals: a usage error before anything heavy is imported"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MISSING = "/nonexistent/images"
COMMANDS = {
  "python local_runner.py --data-dir MISSING": ["local_runner.py", "--data-dir", MISSING],
  "python kubeflow_runner.py --data-dir MISSING": ["kubeflow_runner.py", "--data-dir", MISSING],
  "python -m pipeline.report --output-dir MISSING": [
    "-m",
    "pipeline.report",
    "--output-dir",
    MISSING,
  ],
}


def _left(folder: str) -> List[str]:
  """What is in `folder`, two levels down (folders with a trailing /)."""
  found = []
  for top, dirs, files in os.walk(folder):
    depth = os.path.relpath(top, folder).count(os.sep) + (top != folder)
    relative = [os.path.relpath(os.path.join(top, n), folder) for n in sorted(dirs + files)]
    found += [r + "/" if os.path.isdir(os.path.join(folder, r)) else r for r in relative]
    if depth >= 1:
      dirs[:] = []
  return sorted(found)


def refusal(root: str, command: List[str]) -> Tuple[float, List[str], int]:
  """(wall seconds, what it left in its folder, lines on stderr) of one refusal by the checkout
  at `root`, checked to be one (exit 2, its last line on stderr an error)."""
  script = command if command[0] == "-m" else [os.path.join(root, command[0]), *command[1:]]
  with tempfile.TemporaryDirectory() as cwd:
    start = time.perf_counter()
    done = subprocess.run(
      [sys.executable, *script],
      cwd=cwd,
      capture_output=True,
      text=True,
      env={**os.environ, "PYTHONPATH": root},
      check=False,
    )
    seconds = time.perf_counter() - start
    left = _left(cwd)
  lines = done.stderr.splitlines()
  if done.returncode != 2 or not lines or not lines[-1].startswith("error: "):
    raise RuntimeError(f"{command} in {root}: exit {done.returncode}: {done.stderr[-500:]}")
  print(f"[refusal_benchmark] {root}: {' '.join(command)}: {seconds:.2f} s, {lines[-1]}")
  return seconds, left, len(lines)


def measure(root: str, repeats: int, clean: bool) -> Dict[str, Tuple[List[float], List[str]]]:
  """Each command's (wall seconds over `repeats` rounds, what it left); `clean`: leaving
  anything, or more than its error line on stderr, is an error. The commands alternate."""
  results: Dict[str, Tuple[List[float], List[str]]] = {name: ([], []) for name in COMMANDS}
  for _ in range(repeats):
    for name, command in COMMANDS.items():
      seconds, left, lines = refusal(root, command)
      if clean and (left or lines != 1):
        raise RuntimeError(f"{' '.join(command)}: {lines} lines on stderr, created {left}")
      results[name][0].append(seconds)
      results[name][1][:] = left
  return results


def _row(name: str, after, before) -> str:
  row = f"| `{name}` | {spread(after[name][0], 2)} |"
  if before:
    seconds, left = before[name]
    row += f" {spread(seconds, 2)} | {', '.join(left) or 'nothing'} |"
  return row


def section(after, before, args) -> str:
  command = f"python -m benchmarks.refusal_benchmark --repeats {args.repeats}"
  header = "| command | seconds |" + (" seconds before | before, it created |" if before else "")
  rule = "|---|---:|" + ("---:|---|" if before else "")
  load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
  return (
    f"{SECTION}\n\n"
    f"Command: `{command}{' --before DIR' if before else ''}` ({time.strftime('%Y-%m-%d')}; "
    f"{machine()}; load average {load} at the end).\n"
    "Each command run as a user runs it, in a fresh process in an empty folder, with a path "
    "that does not exist as MISSING; wall seconds from start to exit, median (min–max) over "
    "the repeats. Each refusal of this checkout exited 2 with one line on stderr and created "
    "nothing, and imported no TensorFlow, TFX or Beam (tests/refusal_test.py)"
    + (f"; before: the same commands in a checkout of {args.before_name}" if before else "")
    + ".\n\n"
    + "\n".join([header, rule] + [_row(name, after, before) for name in COMMANDS])
    + "\n"
  )


def main(argv: Optional[List[str]] = None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
  parser.add_argument("--repeats", type=int, default=7, help="Rounds (default: %(default)s).")
  parser.add_argument("--before", help="Another checkout to time the same commands in.")
  parser.add_argument(
    "--before-name", default="the earlier commit", help="What --before holds, for the page."
  )
  parser.add_argument("--results", default=os.path.join(ROOT, "BENCHMARKS.md"))
  args = parser.parse_args(argv)
  after = measure(ROOT, args.repeats, clean=True)
  before = measure(os.path.abspath(args.before), args.repeats, clean=False) if args.before else None
  write_section(args.results, SECTION, section(after, before, args))


if __name__ == "__main__":
  main()
