"""A rerun with no new data: the built-in sample's run, then the same command again in the same
output dir; the second run's wall seconds and the stages it ran again, here and in another
checkout (say, a clean clone of an earlier commit), side by side in one sitting.

  python -m benchmarks.rerun_benchmark [--repeats 3] [--baseline-checkout DIR] [--work DIR]

Each repeat runs each checkout's `local_runner.py` (with this Python) in a fresh output dir,
first and second run one after the other, alternating the checkouts. Results go to
BENCHMARKS.md.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Dict, List

from benchmarks.report import machine, spread, write_section
from tools.runner import ROOT

SECTION = "## A rerun with no new data"
RAN = ("COMPLETE", "ran")  # a stage that executed: MLMD's name (older summaries) or the record's


def _run(checkout: str, out: str) -> Dict:
  """One run of the checkout's local_runner.py on the built-in sample: wall seconds, exit
  status and the stages that executed, from its run_summary.json."""
  start = time.perf_counter()
  done = subprocess.run(
    [sys.executable, os.path.join(checkout, "local_runner.py"), "--output-dir", out],
    cwd=checkout,
    capture_output=True,
    text=True,
  )
  wall = time.perf_counter() - start
  with open(os.path.join(out, "run_summary.json")) as f:
    summary = json.load(f)
  return {
    "wall": wall,
    "trainer": (summary.get("stage_seconds") or {}).get("Trainer"),
    "exit": done.returncode,
    "status": summary.get("status"),
    "ran": sorted(n for n, s in summary.get("stage_states", {}).items() if s in RAN),
    "versions": sorted(n for n in os.listdir(os.path.join(out, "serving_model")) if n.isdigit()),
  }


def _side(checkout: str, work: str) -> Dict:
  out = os.path.join(work, "out")
  shutil.rmtree(out, ignore_errors=True)
  first = _run(checkout, out)
  again = _run(checkout, out)
  return {"first": first, "again": again}


def _write(sides: Dict[str, List[Dict]], command: str) -> None:
  lines = [
    SECTION,
    "",
    f"Command: `{command}` ({time.strftime('%Y-%m-%d')}; {machine()}; "
    f"{len(next(iter(sides.values())))} repeats, the checkouts alternating). The built-in "
    "sample (1,797 digits, 10 epochs) in a fresh output dir, then the same command again.",
    "",
    "| checkout | first run s | its Trainer s | first run ÷ its Trainer | rerun s | rerun "
    "status | stages run again | new versions |",
    "|---|---:|---:|---:|---:|---|---|---:|",
  ]
  for name, results in sides.items():
    again = results[-1]["again"]
    new = len(again["versions"]) - len(results[-1]["first"]["versions"])
    trained = [r["first"] for r in results if r["first"]["trainer"]]
    lines.append(
      f"| {name} | {spread([r['first']['wall'] for r in results], 1)} | "
      f"{spread([r['trainer'] for r in trained], 1)} | "
      f"{spread([r['wall'] / r['trainer'] for r in trained], 2)} | "
      f"{spread([r['again']['wall'] for r in results], 1)} | {again['status']} "
      f"(exit {again['exit']}) | {', '.join(again['ran']) or 'none'} | {new} |"
    )
  lines += [
    "",
    "First run ÷ its Trainer: the first run's wall time (measured from outside the process) "
    "over its Trainer stage's seconds (run_summary.json), per repeat: the built-in sample's "
    "fixed costs against its work (issue 34's goal: at most 2.0).",
    "",
  ]
  write_section(os.path.join(ROOT, "BENCHMARKS.md"), SECTION, "\n".join(lines))


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument(
    "--baseline-checkout", help="Another checkout of the project to measure beside this one."
  )
  parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "rerun-bench"))
  args = parser.parse_args(argv)
  checkouts = {"this checkout": ROOT}
  if args.baseline_checkout:
    checkouts = {"baseline": os.path.abspath(args.baseline_checkout), **checkouts}
  sides: Dict[str, List[Dict]] = {name: [] for name in checkouts}
  for _ in range(args.repeats):
    for name, checkout in checkouts.items():
      sides[name].append(_side(checkout, os.path.join(args.work, name.replace(" ", "-"))))
      print(name, json.dumps(sides[name][-1]), flush=True)
  _write(sides, " ".join(["python -m benchmarks.rerun_benchmark", *(argv or sys.argv[1:])]))


if __name__ == "__main__":
  main()
