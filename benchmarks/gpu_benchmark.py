"""EfficientNetB0 at 224 px through the pipeline's Trainer on a GPU, mixed precision on and off:
training images/s, peak GPU memory and the Evaluator's accuracy, with the card's name.

  python -m benchmarks.gpu_benchmark [--epochs 3] [--repeats 1] [--work DIR] [--data photos]

Each run is `local_runner.py --model efficientnet --weights none --image-size 224` (from scratch:
the GPU machine has no network for ImageNet weights) in a fresh process, first
with `--mixed-precision auto` (float16 compute on a GPU), then `--mixed-precision off`
(float32). Images/s: median over epochs 2.. of training-only time (epoch 1 traces the model and
fills the cache); peak GPU memory: the Trainer's training log (the first GPU's peak, read by
TensorFlow after each epoch). Data: scikit-learn's digits (`--data digits`, always installed;
1,797 images) or benchmarks/photos.py's photographs (`--data photos`, needs the bench extra).
Results replace this benchmark's section of BENCHMARKS.md.

Without a GPU visible to TensorFlow it measures nothing: one line on stderr, exit status 2, and
BENCHMARKS.md is left as it is.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from typing import List, Optional

from benchmarks import measure, photos
from benchmarks.report import machine, spread, write_section
from tools.runner import local_runner_command

SECTION = "## GPU: EfficientNetB0 at 224 px, mixed precision on and off"
EXIT_NO_GPU = 2
NO_GPU = (
  "gpu_benchmark: no GPU visible to TensorFlow, nothing measured "
  "(run it on a machine with an NVIDIA GPU and CUDA)"
)
PRECISIONS = ("auto", "off")  # --mixed-precision: float16 compute on a GPU, then float32


def gpu_names() -> List[str]:
  """The name of each GPU TensorFlow sees (e.g. "NVIDIA H100 80GB HBM3"); [] without one."""
  import tensorflow as tf  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)

  return [
    tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name)
    for gpu in tf.config.list_physical_devices("GPU")
  ]


def _data(kind: str, work: str) -> str:
  if kind == "photos":
    return photos.export(os.path.join(work, "photos-300"), 300)
  from pipeline.sample_data import export_digits  # noqa: PLC0415  (TensorFlow/TFX behind it: loaded when used)

  return export_digits(os.path.join(work, "digits"))


def _run(data_dir: str, out_dir: str, precision: str, epochs: int, batch_size: int) -> dict:
  """One local_runner.py run in a fresh output dir (nothing taken from an earlier run's cache):
  its training figures and the Evaluator's accuracy."""
  shutil.rmtree(out_dir, ignore_errors=True)
  summary, wall, _ = measure.pipeline(
    local_runner_command(
      data_dir,
      out_dir,
      "gpu",
      "--model",
      "efficientnet",
      "--weights",
      "none",  # from scratch: the machine has no network for Keras' ImageNet file
      "--image-size",
      "224",
      "--epochs",
      str(epochs),
      "--batch-size",
      str(batch_size),
      "--mixed-precision",
      precision,
      "--accuracy-threshold",
      "0",
      "--min-class-recall",
      "0",
      "--min-class-precision",
      "0",
    ),
    out_dir,
  )
  log = summary["training"]["epoch_log"]
  warm = [e["images_per_second"] for e in log[1:]] or [log[0]["images_per_second"]]
  return {
    "images_per_second": statistics.median(warm),
    "gpu_peak_mb": max(e.get("gpu_peak_mb", 0) for e in log),
    "accuracy": summary["metrics"]["accuracy"],
    "wall": wall,
  }


def _write(results, cards: List[str], command: str, data: str) -> None:
  def row(name, key, digits=0):
    return f"| {name} | " + " | ".join(
      spread([r[p][key] for r in results], digits) for p in PRECISIONS
    )

  speedup = [r["auto"]["images_per_second"] / r["off"]["images_per_second"] for r in results]
  lines = [
    SECTION,
    "",
    f"Command: `{command}` ({time.strftime('%Y-%m-%d')}; {', '.join(cards)}; {machine()}; "
    f"{len(results)} repeat(s), each run in a fresh process).",
    f"EfficientNetB0 from scratch, 224×224 px, data: {data}. Images/s: median over epochs 2.. "
    "of training-only time; peak GPU memory: TensorFlow's peak on the first GPU; accuracy: the "
    "Evaluator's on the eval split. Median (min–max) over repeats.",
    "",
    "| figure | mixed precision (float16) | float32 |",
    "|---|---:|---:|",
    row("Trainer images/s", "images_per_second"),
    row("peak GPU memory MB", "gpu_peak_mb"),
    row("accuracy (Evaluator)", "accuracy", 4),
    row("whole run seconds", "wall"),
    "",
    f"Mixed precision ÷ float32 images/s: {spread(speedup, 2)}.",
    "",
  ]
  write_section("BENCHMARKS.md", SECTION, "\n".join(lines))


def main(argv: Optional[List[str]] = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--epochs", type=int, default=3)
  parser.add_argument("--batch-size", type=int, default=64)
  parser.add_argument("--repeats", type=int, default=1)
  parser.add_argument("--data", choices=("digits", "photos"), default="digits")
  parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "gpu_benchmark"))
  args = parser.parse_args(argv)
  cards = gpu_names()
  if not cards:
    print(NO_GPU, file=sys.stderr)
    return EXIT_NO_GPU
  data_dir = _data(args.data, args.work)
  results = []
  for repeat in range(args.repeats):
    results.append(
      {
        precision: _run(
          data_dir,
          os.path.join(args.work, f"{precision}-{repeat}"),
          precision,
          args.epochs,
          args.batch_size,
        )
        for precision in PRECISIONS
      }
    )
  command = "python -m benchmarks.gpu_benchmark " + " ".join(argv or sys.argv[1:])
  _write(results, cards, command.strip(), args.data)
  return 0


if __name__ == "__main__":
  # Here, not on import: a test that imports this module must not change its own environment.
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  sys.exit(main())
