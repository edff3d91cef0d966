"""Fashion-MNIST through the whole local pipeline: the default CNN's test accuracy, and the
Trainer's images/s against the same model fed from in-memory arrays.

  python -m benchmarks.training_benchmark [--epochs 12] [--repeats 3] [--work DIR]

The data is Debian's dataset-fashion-mnist exported to pre-split PNG folders (55,000 train,
5,000 eval, the official 10,000 test; benchmarks/fashion_mnist.py). Each repeat runs, one after
the other in fresh processes, `local_runner.py` on those folders and a plain Keras script that
fits the same model (trainer_module.model) on the same 55,000 training images held in numpy
arrays, with the same batch size. Throughput is the median over epochs 2.. (epoch 1 fills the
Trainer's cache), timed by the same callback in both. Results go to BENCHMARKS.md.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks.report import machine, spread, write_section
from schemas import nodes
from schemas.features import IMAGE_XF
from tools.runner import local_runner_command

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SECTION = "## Training: the pipeline's CNN on Fashion-MNIST vs in-memory Keras"
BATCH_SIZE = 64
IMAGE_SIZE = 28


def _in_memory(epochs: int, log_path: str) -> None:
  """The baseline: the same model, numpy arrays, model.fit."""

  from benchmarks import fashion_mnist  # noqa: PLC0415  (the dataset export: TensorFlow, only when the data is missing)
  from trainer_module import callbacks  # noqa: PLC0415  (TensorFlow/TFX behind it: loaded when used)
  from trainer_module import model as model_lib  # noqa: PLC0415  (TensorFlow/TFX behind it: loaded when used)

  images, labels = fashion_mnist.arrays("train")
  keep = np.arange(len(labels)) % fashion_mnist.EVAL_EVERY != 0  # the pipeline's train split
  x = images[keep][..., None]  # uint8, as Transform stores them; the model takes 0-255
  y = labels[keep].astype("int64")
  model = model_lib.compile_model(
    model_lib.build_model("cnn", IMAGE_SIZE, 1, 10, mean=[x.mean()], std=[x.std()]), 1e-3
  )
  model.fit(
    {IMAGE_XF: x},
    y,
    batch_size=BATCH_SIZE,
    epochs=epochs,
    verbose=2,
    callbacks=[callbacks.EpochLog(log_path, len(y), "in_memory")],
  )


def _warm_median(epochs):
  warm = [e["images_per_second"] for e in epochs[1:]] or [epochs[0]["images_per_second"]]
  return statistics.median(warm)


def _pipeline(data_dir: str, out_dir: str, epochs: int):
  start = time.perf_counter()
  subprocess.run(
    local_runner_command(
      data_dir,
      out_dir,
      "fashion-mnist",
      "--image-size",
      str(IMAGE_SIZE),
      "--channels",
      "1",
      "--epochs",
      str(epochs),
      "--batch-size",
      str(BATCH_SIZE),
      "--accuracy-threshold",
      "0.5",
      "--min-class-recall",
      "0.3",
      "--min-class-precision",
      "0.3",
    ),
    check=True,
  )
  wall = time.perf_counter() - start
  with open(os.path.join(out_dir, "run_summary.json")) as f:
    summary = json.load(f)
  return {
    "wall": wall,
    "accuracy": summary["metrics"]["accuracy"],
    "trainer_seconds": summary["stage_seconds"][nodes.TRAINER],
    "epochs_run": summary["training"]["epochs"],
    "images_per_second": _warm_median(summary["training"]["epoch_log"]),
  }


def _baseline(work: str, epochs: int):
  log = os.path.join(work, "in_memory.jsonl")
  if os.path.exists(log):
    os.remove(log)
  subprocess.run(
    [
      sys.executable,
      "-m",
      "benchmarks.training_benchmark",
      "--in-memory-log",
      log,
      "--epochs",
      str(epochs),
    ],
    check=True,
  )
  with open(log) as f:
    return {"images_per_second": _warm_median([json.loads(line) for line in f])}


def _write(results, command: str) -> None:
  pipe = [r["pipeline"] for r in results]
  ratio = [
    r["pipeline"]["images_per_second"] / r["in_memory"]["images_per_second"] for r in results
  ]
  lines = [
    SECTION,
    "",
    f"Command: `{command}` ({time.strftime('%Y-%m-%d')}; {machine()}; {len(results)} "
    "repeat(s), each running both in fresh processes, one after the other).",
    "Default CNN, 28×28×1, batch 64, Adam 1e-3 with the Trainer's default cosine schedule and "
    "early stopping, no XLA on CPU; 55,000 train / 5,000 eval / 10,000 test images. Accuracy is "
    "the Evaluator's on the official test set. Images/s: median over epochs 2.. of "
    "training-only time, the same callback (trainer_module.callbacks.EpochLog) timing both sides. "
    "Median (min–max) over repeats.",
    "",
    "| figure | value |",
    "|---|---:|",
    f"| test accuracy (Evaluator) | {spread([p['accuracy'] for p in pipe], 4)} |",
    f"| Trainer stage seconds | {spread([p['trainer_seconds'] for p in pipe])} |",
    f"| epochs run | {spread([p['epochs_run'] for p in pipe])} |",
    f"| whole pipeline seconds | {spread([p['wall'] for p in pipe])} |",
    f"| Trainer images/s | {spread([p['images_per_second'] for p in pipe])} |",
    "| in-memory Keras images/s | "
    f"{spread([r['in_memory']['images_per_second'] for r in results])} |",
    f"| Trainer ÷ in-memory | {spread(ratio, 2)} |",
    "",
  ]
  write_section("BENCHMARKS.md", SECTION, "\n".join(lines))


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--epochs", type=int, default=12)
  parser.add_argument("--baseline-epochs", type=int, default=3)
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "training-bench"))
  parser.add_argument("--in-memory-log", help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.in_memory_log:
    _in_memory(args.epochs, args.in_memory_log)
    return
  from benchmarks import fashion_mnist  # noqa: PLC0415  (the dataset export: TensorFlow, only when the data is missing)

  results = fashion_mnist.repeat_on_splits(
    args.work,
    args.repeats,
    lambda data, out: {
      "pipeline": _pipeline(data, out, args.epochs),
      "in_memory": _baseline(args.work, args.baseline_epochs),
    },
  )
  _write(results, "python -m benchmarks.training_benchmark " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
  main()
