"""An ensemble of 3 CNNs against one CNN on a Fashion-MNIST subset: test accuracy and serving p50.

  python -m benchmarks.ensemble_benchmark [--train 10000] [--epochs 3] [--rounds 5] [--work DIR]

Exports the first `--train` official training images to train/, the next `--eval` to eval/ and
the first `--test` official test images to test/ (PNG class folders, the pre-split layout), then
runs `local_runner.py` twice in fresh output dirs with the same flags and seed: once with the
default single CNN, once with `--ensemble 3` (seeds 0, 1, 2). The Evaluator gates on test/, so
the accuracies (the ensemble's, each member's and the single model's) are on the same images.
Then serving_default of both pushed SavedModels answers real test images, in alternating rounds
of `--calls` batch-1 calls (p50 and p99). Results go to BENCHMARKS.md.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

from benchmarks import fashion_mnist, measure
from benchmarks.report import machine, spread, write_section
from benchmarks.serving_benchmark import _round
from schemas import nodes
from tools.runner import local_runner_command

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SECTION = "## Ensembles: 3 CNNs vs 1 on Fashion-MNIST"
MEMBERS = 3


def _run(data_dir: str, out_dir: str, epochs: int, *flags: str) -> dict:
  command = local_runner_command(
    data_dir,
    out_dir,
    "fashion-ensemble",
    "--image-size",
    "28",
    "--channels",
    "1",
    "--epochs",
    str(epochs),
    "--batch-size",
    "64",
    "--accuracy-threshold",
    "0.5",
    "--min-class-recall",
    "0",
    "--min-class-precision",
    "0",
    *flags,
  )
  summary, wall, peak = measure.pipeline(command, out_dir)
  if not summary.get("pushed_model_path"):
    raise RuntimeError(f"nothing was pushed in {out_dir}: {summary.get('failed_gates')}")
  return {
    "wall": wall,
    "peak_mb": peak,
    "accuracy": summary["metrics"]["accuracy"],
    "split": summary["metrics"]["split"],
    "images": summary["metrics"]["examples"],
    "members": [m["accuracy"] for m in (summary.get("ensemble") or {}).get("members", [])],
    "trainer_seconds": summary["stage_seconds"].get(nodes.TRAINER),
    "int8_bytes": (summary.get("tflite") or {}).get("int8", {}).get("bytes"),
    "int8_agreement": (summary.get("tflite") or {}).get("int8", {}).get("agreement"),
    "model": summary["pushed_model_path"],
  }


def _int8(run: dict) -> str:
  if not run["int8_bytes"]:
    return "not converted"
  return f"{run['int8_bytes'] / 1024:.0f} ({run['int8_agreement']})"


def _test_images(data_dir: str, count: int):
  names = sorted(
    os.path.join(root, name)
    for root, _, files in os.walk(os.path.join(data_dir, "test"))
    for name in files
  )
  return [open(path, "rb").read() for path in names[:count]]


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--train", type=int, default=10000)
  parser.add_argument("--eval", type=int, default=2000)
  parser.add_argument("--test", type=int, default=2000)
  parser.add_argument("--epochs", type=int, default=3)
  parser.add_argument("--rounds", type=int, default=5)
  parser.add_argument("--calls", type=int, default=300)
  parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "ensemble-bench"))
  args = parser.parse_args()
  data_dir = fashion_mnist.export_subset(
    os.path.join(args.work, f"fashion-{args.train}-{args.eval}-{args.test}"),
    args.train,
    args.eval,
    args.test,
  )
  runs = {}
  for name, flags in (("one CNN", ()), (f"ensemble of {MEMBERS}", ("--ensemble", str(MEMBERS)))):
    out_dir = os.path.join(args.work, "run-" + name.split()[0])
    shutil.rmtree(out_dir, ignore_errors=True)
    runs[name] = _run(data_dir, out_dir, args.epochs, *flags)
    print(json.dumps({name: runs[name]}), flush=True)

  import tensorflow as tf  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)

  images = _test_images(data_dir, 256)
  serving = {
    name: tf.saved_model.load(run["model"]).signatures["serving_default"]
    for name, run in runs.items()
  }
  latency = {name: [] for name in runs}
  for _ in range(args.rounds):
    for name, fn in serving.items():  # alternating, so both see the same machine state
      latency[name].append(_round(lambda b, fn=fn: fn(image_bytes=b), images, args.calls))
    print(json.dumps({n: r[-1] for n, r in latency.items()}), flush=True)

  single, ensemble = runs.values()
  command = " ".join(["python -m benchmarks.ensemble_benchmark", *sys.argv[1:]])
  members = ", ".join(f"{a:.4f}" for a in ensemble["members"])
  lines = [
    SECTION,
    "",
    f"Command: `nice -n 5 {command}` ({time.strftime('%Y-%m-%d')}; {machine()}; one run of "
    f"each, in fresh processes and output dirs, then {args.rounds} alternating serving rounds "
    f"of {args.calls} batch-1 calls).",
    f"Data: a Fashion-MNIST subset, {args.train:,} train / {args.eval:,} eval PNGs (the first "
    f"official training images) and the first {args.test:,} official test PNGs; the Evaluator "
    f"gates on test. Both runs: default CNN, 28×28×1, batch 64, {args.epochs} epochs, seed 0; "
    f"the ensemble trains 3 members (seeds 0, 1, 2) one after the other and serves their mean "
    "probability. Latency: serving_default of the pushed SavedModel on real PNG bytes, median "
    "(range) over rounds.",
    "",
    f"| figure | one CNN | ensemble of {MEMBERS} |",
    "|---|---:|---:|",
    f"| test accuracy (Evaluator, {single['images']} images) | {single['accuracy']:.4f} | "
    f"{ensemble['accuracy']:.4f} |",
    f"| members' test accuracy | | {members} |",
    f"| batch 1 p50 ms | {spread([r['p50_ms'] for r in latency['one CNN']], 2)} | "
    f"{spread([r['p50_ms'] for r in latency[f'ensemble of {MEMBERS}']], 2)} |",
    f"| batch 1 p99 ms | {spread([r['p99_ms'] for r in latency['one CNN']], 2)} | "
    f"{spread([r['p99_ms'] for r in latency[f'ensemble of {MEMBERS}']], 2)} |",
    f"| batch 64 images/s | "
    f"{spread([r['batch_images_per_second'] for r in latency['one CNN']])} | "
    f"{spread([r['batch_images_per_second'] for r in latency[f'ensemble of {MEMBERS}']])} |",
    f"| Trainer seconds | {single['trainer_seconds']} | {ensemble['trainer_seconds']} |",
    f"| whole run seconds | {single['wall']:.0f} | {ensemble['wall']:.0f} |",
    f"| peak memory MB | {single['peak_mb']:.0f} | {ensemble['peak_mb']:.0f} |",
    f"| TFLite int8 KiB (top-1 agreement) | {_int8(single)} | {_int8(ensemble)} |",
    "",
  ]
  write_section("BENCHMARKS.md", SECTION, "\n".join(lines))


if __name__ == "__main__":
  main()
