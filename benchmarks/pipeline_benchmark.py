"""The whole local pipeline against a plain Keras script on the same Fashion-MNIST folders.

  python -m benchmarks.pipeline_benchmark [--epochs 5] [--repeats 3] [--work DIR]

Both read Debian's dataset-fashion-mnist exported to pre-split PNG class folders
(benchmarks/fashion_mnist.py: 55,000 train, 5,000 eval, the official 10,000 test). The pipeline
is `local_runner.py` with a fresh output dir (ingest, statistics, validation, Transform, the
default CNN, Evaluator on test/, serving check, push). The plain script is what one writes by
hand: `keras.utils.image_dataset_from_directory` on train/ and eval/, scaled to [0, 1], cached
and prefetched, the same model (trainer_module.model), batch size and epochs, then evaluated on
test/. Each repeat runs both, one after the other, in fresh processes; wall time and peak memory
(summed RSS of the process tree) are measured from outside. Results go to BENCHMARKS.md.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks import measure
from benchmarks.report import machine, spread, write_section
from schemas.features import IMAGE_XF
from tools.runner import local_runner_command

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SECTION = "## Whole pipeline vs a plain Keras script"
BATCH_SIZE = 64
IMAGE_SIZE = 28
REPORT = "report"  # predictions.csv, the pages and the card, after the last stage
REST = "start-up, orchestration and the rest (wall − the rows above)"


def _plain(data_dir: str, epochs: int) -> None:
  """The baseline script; prints its test accuracy as JSON."""
  import keras  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)
  import tensorflow as tf  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)

  from trainer_module import model as model_lib  # noqa: PLC0415  (TensorFlow/TFX behind it: loaded when used)

  def folder(split: str, shuffle: bool) -> tf.data.Dataset:
    dataset = keras.utils.image_dataset_from_directory(
      os.path.join(data_dir, split),
      label_mode="int",
      color_mode="grayscale",
      image_size=(IMAGE_SIZE, IMAGE_SIZE),
      batch_size=BATCH_SIZE,
      shuffle=shuffle,
      seed=0,
    )
    return dataset.map(lambda x, y: ({IMAGE_XF: x}, y), num_parallel_calls=tf.data.AUTOTUNE)

  train = folder("train", True).cache().prefetch(tf.data.AUTOTUNE)
  evaluation = folder("eval", False).cache().prefetch(tf.data.AUTOTUNE)
  # The model's first layer standardizes 0-255 pixels; the constants Transform would compute.
  pixels = np.concatenate([x[IMAGE_XF].numpy() for x, _ in train])
  model = model_lib.compile_model(
    model_lib.build_model("cnn", IMAGE_SIZE, 1, 10, mean=[pixels.mean()], std=[pixels.std()]), 1e-3
  )
  model.fit(train, validation_data=evaluation, epochs=epochs, verbose=2)
  _, accuracy = model.evaluate(folder("test", False), verbose=0)
  print(json.dumps({"accuracy": accuracy}))


def _run_pipeline(data_dir: str, out_dir: str, epochs: int) -> dict:
  summary, wall, peak = measure.pipeline(
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
    ),
    out_dir,
  )
  # Every second of the wall time: each stage that ran, the report, and what is left.
  stages = dict(summary["stage_seconds"])
  stages[REPORT] = summary.get("report_seconds") or 0.0
  stages[REST] = round(wall - sum(stages.values()), 1)
  return {
    "wall": wall,
    "peak_mb": peak,
    "accuracy": summary["metrics"]["accuracy"],
    "stages": stages,
  }


def _run_plain(data_dir: str, epochs: int) -> dict:
  done, wall, peak = measure.run(
    [
      sys.executable,
      "-m",
      "benchmarks.pipeline_benchmark",
      "--plain",
      data_dir,
      "--epochs",
      str(epochs),
    ],
    stdout=subprocess.PIPE,
    text=True,
  )
  if done.returncode:
    raise RuntimeError(f"the plain script failed with exit status {done.returncode}")
  return {
    "wall": wall,
    "peak_mb": peak,
    "accuracy": json.loads(done.stdout.strip().splitlines()[-1])["accuracy"],
  }


def _write(results, epochs: int, command: str) -> None:
  pipe = [r["pipeline"] for r in results]
  plain = [r["plain"] for r in results]
  ratio = [p["wall"] / b["wall"] for p, b in zip(pipe, plain)]
  lines = [
    SECTION,
    "",
    f"Command: `{command}` ({time.strftime('%Y-%m-%d')}; {machine()}; {len(results)} "
    "repeats, each running both in fresh processes, one after the other).",
    f"Default CNN, 28×28×1, batch {BATCH_SIZE}, {epochs} epochs, on 55,000 train / 5,000 eval "
    "PNGs; accuracy on the official 10,000 test PNGs. Median (min–max) over repeats.",
    "",
    "| figure | whole pipeline | plain Keras script |",
    "|---|---:|---:|",
    f"| wall seconds | {spread([p['wall'] for p in pipe])} | "
    f"{spread([b['wall'] for b in plain])} |",
    f"| peak memory MB | {spread([p['peak_mb'] for p in pipe])} | "
    f"{spread([b['peak_mb'] for b in plain])} |",
    f"| test accuracy | {spread([p['accuracy'] for p in pipe], 4)} | "
    f"{spread([b['accuracy'] for b in plain], 4)} |",
  ]
  for stage in dict.fromkeys(name for p in pipe for name in p["stages"]):  # in run order
    seconds = [p["stages"].get(stage, 0.0) for p in pipe]
    lines.append(f"| {stage} seconds | {spread(seconds, 1)} | |")
  lines += [
    "",
    f"Wall time, pipeline ÷ plain script, per repeat: {spread(ratio, 2)} "
    "(target ≤ 1.4 at equal or better accuracy).",
    "",
  ]
  write_section("BENCHMARKS.md", SECTION, "\n".join(lines))


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--epochs", type=int, default=5)
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "pipeline-bench"))
  parser.add_argument("--plain", metavar="DATA_DIR", help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.plain:
    _plain(args.plain, args.epochs)
    return
  from benchmarks import fashion_mnist  # noqa: PLC0415  (the dataset export: TensorFlow, only when the data is missing)

  results = fashion_mnist.repeat_on_splits(
    args.work,
    args.repeats,
    lambda data, out: {
      "pipeline": _run_pipeline(data, out, args.epochs),
      "plain": _run_plain(data, args.epochs),
    },
  )
  _write(results, args.epochs, " ".join(["python -m benchmarks.pipeline_benchmark", *sys.argv[1:]]))


if __name__ == "__main__":
  main()
