"""Every figure in BENCHMARKS.md, one benchmark after the other (a few hours on 2 cores).

  python -m benchmarks

Each benchmark replaces its own section of BENCHMARKS.md; run one alone with
`python -m benchmarks.<name>` (see each module's docstring for its options).
"""

import argparse
import subprocess
import sys

BENCHMARKS = (
  ["benchmarks.ingest_benchmark", "--sizes", "70000,700000", "--repeats", "3"],
  ["benchmarks.training_benchmark", "--epochs", "12", "--repeats", "3"],
  ["benchmarks.serving_benchmark", "--rounds", "11", "--calls", "500"],
  ["benchmarks.pipeline_benchmark", "--epochs", "5", "--repeats", "3"],
  ["benchmarks.tflite_benchmark", "--rounds", "5", "--calls", "300"],
  ["benchmarks.inference_benchmark", "--images", "20000", "--repeats", "3"],
  ["benchmarks.ensemble_benchmark", "--epochs", "3", "--rounds", "5"],
  ["benchmarks.recipe_benchmark", "--epochs", "15"],
  ["benchmarks.refusal_benchmark", "--repeats", "7"],
  ["benchmarks.rerun_benchmark", "--repeats", "3"],
  ["benchmarks.label_issues_benchmark", "--per-class", "4000", "--epochs", "10"],
)

if __name__ == "__main__":
  argparse.ArgumentParser(
    prog="python -m benchmarks", description=__doc__.split("\n\n")[0]
  ).parse_args()
  for module, *args in BENCHMARKS:
    print(f"[benchmarks] python -m {module} {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, "-m", module, *args], check=True)
