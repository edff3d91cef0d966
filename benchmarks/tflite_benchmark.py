"""The pushed TFLite models (int8, float16) against the pushed SavedModel: size, batch-1
latency, accuracy and agreement on the gate split.

  python -m benchmarks.tflite_benchmark [--rounds 5] [--calls 300] [--output-dir DIR]

Runs `local_runner.py` with its defaults (the default CNN on the built-in digits sample) once,
or takes `--output-dir` of an earlier run, then alternates rounds of `--calls` batch-1 calls of
each: the int8 and float16 interpreters on decoded uint8 pixels (what an app passes after its
own decoding), serving_default of the SavedModel on the encoded image (decoding included, what
TF Serving runs) and, for reference, the decoding alone (decode_images, what the app adds to the
interpreters' time). Results (median and min–max over rounds) go to BENCHMARKS.md.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks.report import machine, spread, write_section

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SECTION = "## TFLite: int8 and float16 interpreters vs the SavedModel"


def _run_pipeline(out_dir: str) -> dict:
  if not os.path.exists(os.path.join(out_dir, "run_summary.json")):
    subprocess.run([sys.executable, "local_runner.py", "--output-dir", out_dir], check=True)
  with open(os.path.join(out_dir, "run_summary.json")) as f:
    return json.load(f)


def _size(path: str) -> int:
  if os.path.isfile(path):
    return os.path.getsize(path)
  return sum(
    os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(path) for name in names
  )


def _latencies(fn, inputs, calls: int) -> dict:
  for i in range(20):  # warm up
    fn(inputs[i % len(inputs)])
  times = []
  for i in range(calls):
    start = time.perf_counter()
    fn(inputs[i % len(inputs)])
    times.append(time.perf_counter() - start)
  return {
    "p50_ms": 1000 * float(np.percentile(times, 50)),
    "p99_ms": 1000 * float(np.percentile(times, 99)),
  }


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--rounds", type=int, default=5)
  parser.add_argument("--calls", type=int, default=300)
  parser.add_argument("--output-dir", help="an earlier local_runner output to take the models from")
  parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "tflite-bench"))
  args = parser.parse_args()
  out_dir = args.output_dir or os.path.join(args.work, "digits")
  summary = _run_pipeline(out_dir)
  block = summary.get("tflite") or {}
  if not block.get("path"):
    sys.exit(f"no TFLite models were pushed: {block.get('reason') or block}")

  import tensorflow as tf  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)

  from components import scoring  # noqa: PLC0415  (after the pipeline run's own imports)
  from components.image_example_gen import records  # noqa: PLC0415  (as above)
  from components.tflite_export import convert, parity  # noqa: PLC0415  (as above)
  from trainer_module.preprocessing import decode_images  # noqa: PLC0415  (TensorFlow/TFX behind it: loaded when used)

  version, folder = summary["pushed_model_path"], block["path"]
  with open(os.path.join(folder, "input.json")) as f:
    spec = json.load(f)
  names = open(os.path.join(folder, "labels.txt")).read().splitlines()
  split = block["split"]
  gate = list(records.read(summary["examples_path"], split))
  encoded = [r.image for r in gate]
  labels = np.array([names.index(r.label) for r in gate])
  pixels = scoring.decode(encoded, spec)

  serve = tf.saved_model.load(version).signatures["serving_default"]
  interpreters = {
    kind: scoring.TFLiteClassifier(os.path.join(folder, convert.FILES[kind]))
    for kind in (convert.INT8, convert.FLOAT16)
  }
  served = scoring.served_probabilities(version, encoded)
  quality = {
    "SavedModel": {"accuracy": float(np.mean(served.argmax(1) == labels)), "agreement": 1.0}
  }
  for kind, interpreter in interpreters.items():
    quality[kind] = parity.compare(served, interpreter.predict(pixels), labels)

  bytes_inputs = [tf.constant([d]) for d in encoded[:256]]
  decode = tf.function(
    lambda b: decode_images(b, spec["height"], spec["channels"], spec["resize"]),
    input_signature=[tf.TensorSpec([None], tf.string)],
  )
  fns = {
    "int8": (interpreters["int8"], list(pixels[:256])),
    "float16": (interpreters["float16"], list(pixels[:256])),
    "SavedModel": (lambda b: serve(image_bytes=b)["probabilities"].numpy(), bytes_inputs),
    "decode": (lambda b: decode(b).numpy(), bytes_inputs),
  }
  results = {name: [] for name in fns}
  load = os.getloadavg()[0]  # other jobs on the machine show in p99 first
  for _ in range(args.rounds):
    for name, (fn, inputs) in fns.items():  # alternating, so all see the same machine state
      results[name].append(_latencies(fn, inputs, args.calls))
    print(json.dumps({n: r[-1] for n, r in results.items()}), flush=True)

  sizes = {
    "int8": _size(os.path.join(folder, convert.FILES["int8"])),
    "float16": _size(os.path.join(folder, convert.FILES["float16"])),
    "SavedModel": _size(os.path.join(version, "saved_model.pb"))
    + _size(os.path.join(version, "variables")),
  }
  columns = ("int8", "float16", "SavedModel")
  command = " ".join(["python -m benchmarks.tflite_benchmark", *sys.argv[1:]])
  height, width, channels = spec["height"], spec["width"], spec["channels"]
  lines = [
    SECTION,
    "",
    f"Command: `{command}` ({time.strftime('%Y-%m-%d')}; {machine()}; load average "
    f"{load:.1f} at the start; {args.rounds} alternating rounds of {args.calls} batch-1 calls "
    "each; median (min–max) over rounds).",
    f"Model: the default CNN trained by `local_runner.py` on the digits sample "
    f"({height}×{width}×{channels} input), as pushed: `tflite/model_int8.tflite`, "
    "`tflite/model_float16.tflite` and the SavedModel (`saved_model.pb` + `variables/`). The "
    "interpreters (TensorFlow's tf.lite.Interpreter, default threads) get decoded uint8 "
    "pixels; serving_default gets the encoded PNG and decodes it itself. The SavedModel's "
    "variables also hold the Adam optimizer's two slots per weight (so about 3× the weights).",
    f"Accuracy and top-1 agreement with the SavedModel: all {len(encoded)} `{split}` images.",
    "",
    "| figure | int8 | float16 | SavedModel |",
    "|---|---:|---:|---:|",
    "| size | " + " | ".join(f"{sizes[c] / 1024:.0f} KiB" for c in columns) + " |",
  ]
  for key, label in (("p50_ms", "batch 1 p50 ms"), ("p99_ms", "batch 1 p99 ms")):
    lines.append(
      f"| {label} | " + " | ".join(spread([r[key] for r in results[c]], 3) for c in columns) + " |"
    )
  lines.append(
    "| accuracy | " + " | ".join(f"{quality[c]['accuracy']:.4f}" for c in columns) + " |"
  )
  lines.append(
    "| top-1 agreement with the SavedModel | "
    + " | ".join(f"{quality[c]['agreement']:.2%}" for c in columns)
    + " |"
  )
  lines += [
    "",
    "Decoding and resizing one image in TensorFlow (`decode_images` in a "
    "tf.function, the app's share before an interpreter call): p50 "
    f"{spread([r['p50_ms'] for r in results['decode']], 3)} ms, p99 "
    f"{spread([r['p99_ms'] for r in results['decode']], 3)} ms.",
    "",
  ]
  write_section("BENCHMARKS.md", SECTION, "\n".join(lines))


if __name__ == "__main__":
  main()
