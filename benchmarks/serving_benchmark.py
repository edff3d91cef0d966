"""Latency of the pushed model's raw-bytes signature against the bare Keras model plus the same
image decoding, side by side in one process.

  python -m benchmarks.serving_benchmark [--rounds 5] [--calls 300] [--work DIR]

Trains the default CNN with `local_runner.py` on the built-in digits sample (or takes
`--output-dir` of an earlier run), then alternates rounds of: serving_default of the pushed
SavedModel (what TF Serving runs: Transform layer, model, class names) and a tf.function of
`decode_images` + the Trainer's saved Keras model (model.keras). Both get the same real
encoded eval images. Per round: p50 and p99 of `--calls` batch-1 calls, and images/s of batch
64 calls. Results (median and range over rounds) go to BENCHMARKS.md.
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks.report import machine, spread, write_section
from schemas import filenames, nodes
from schemas.features import IMAGE_XF

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SECTION = "## Serving: raw-bytes signature vs bare Keras model plus decode"
BATCH = 64


def _train(out_dir: str) -> dict:
  if not os.path.exists(os.path.join(out_dir, "run_summary.json")):
    subprocess.run(
      [sys.executable, "local_runner.py", "--output-dir", out_dir, "--epochs", "5"], check=True
    )
  with open(os.path.join(out_dir, "run_summary.json")) as f:
    return json.load(f)


def _callables(summary: dict, out_dir: str):
  import keras  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)
  import tensorflow as tf  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)

  from trainer_module.preprocessing import decode_images  # noqa: PLC0415  (TensorFlow/TFX behind it: loaded when used)

  serving = tf.saved_model.load(summary["pushed_model_path"]).signatures["serving_default"]
  (keras_path,) = glob.glob(
    os.path.join(out_dir, "pipeline", nodes.TRAINER, "model_run", "*", filenames.KERAS_MODEL)
  )[-1:]
  model = keras.models.load_model(keras_path)
  size, _, channels = model.input_shape[1:]

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
  def bare(image_bytes):
    pixels = tf.cast(decode_images(image_bytes, size, channels), tf.float32)
    return model({IMAGE_XF: pixels}, training=False)

  return {"signature": lambda b: serving(image_bytes=b), "bare Keras + decode": bare}


def _eval_images(out_dir: str, count: int):
  import tensorflow as tf  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)

  files = sorted(
    glob.glob(
      os.path.join(out_dir, "pipeline", nodes.EXAMPLE_GEN, "examples", "*", "Split-eval", "*")
    )
  )
  records = tf.data.TFRecordDataset(files, compression_type="GZIP").take(count)
  return [
    tf.train.Example.FromString(r.numpy()).features.feature["image"].bytes_list.value[0]
    for r in records
  ]


def _round(fn, images, calls: int) -> dict:
  import tensorflow as tf  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)

  singles = [tf.constant([images[i % len(images)]]) for i in range(calls)]
  batch = tf.constant([images[i % len(images)] for i in range(BATCH)])
  for single in singles[:20]:  # warm up
    fn(single)
  fn(batch)
  latencies = []
  for single in singles:
    start = time.perf_counter()
    outputs = fn(single)
    (outputs["probabilities"] if isinstance(outputs, dict) else outputs).numpy()
    latencies.append(time.perf_counter() - start)
  start = time.perf_counter()
  for _ in range(20):
    fn(batch)
  return {
    "p50_ms": 1000 * float(np.percentile(latencies, 50)),
    "p99_ms": 1000 * float(np.percentile(latencies, 99)),
    "batch_images_per_second": 20 * BATCH / (time.perf_counter() - start),
  }


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--rounds", type=int, default=5)
  parser.add_argument("--calls", type=int, default=300)
  parser.add_argument("--output-dir", help="an earlier local_runner output to take the model from")
  parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "serving-bench"))
  args = parser.parse_args()
  out_dir = args.output_dir or os.path.join(args.work, "digits")
  summary = _train(out_dir)
  fns = _callables(summary, out_dir)
  images = _eval_images(out_dir, 256)
  results = {name: [] for name in fns}
  for _ in range(args.rounds):
    for name, fn in fns.items():  # alternating, so both see the same machine state
      results[name].append(_round(fn, images, args.calls))
    print(json.dumps({n: r[-1] for n, r in results.items()}), flush=True)
  signature, bare = results["signature"], results["bare Keras + decode"]
  ratio = [s["p50_ms"] / b["p50_ms"] for s, b in zip(signature, bare)]
  command = " ".join(["python -m benchmarks.serving_benchmark", *sys.argv[1:]])
  lines = [
    SECTION,
    "",
    f"Command: `{command}` ({time.strftime('%Y-%m-%d')}; {machine()}; {args.rounds} alternating "
    f"rounds of {args.calls} batch-1 calls and 20 batch-{BATCH} calls each).",
    "Model: the default CNN trained by `local_runner.py` on the digits sample (32×32×3 after "
    "Transform); inputs: real PNG eval images as encoded bytes. Median (range) over rounds.",
    "",
    "| figure | serving_default (SavedModel) | bare Keras + decode |",
    "|---|---:|---:|",
  ]
  for key, label, digits in (
    ("p50_ms", "batch 1 p50 ms", 2),
    ("p99_ms", "batch 1 p99 ms", 2),
    ("batch_images_per_second", f"batch {BATCH} images/s", 0),
  ):
    lines.append(
      f"| {label} | {spread([r[key] for r in signature], digits)} | "
      f"{spread([r[key] for r in bare], digits)} |"
    )
  lines += ["", f"p50 ratio signature ÷ bare, per round: {spread(ratio, 2)} (target ≤ 1.2).", ""]
  write_section("BENCHMARKS.md", SECTION, "\n".join(lines))


if __name__ == "__main__":
  main()
