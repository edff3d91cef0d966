"""Batch inference: TFX's BulkInferrer (DirectRunner on every core) against
`python -m pipeline.predict --output` on the same Fashion-MNIST files.

  python -m benchmarks.inference_benchmark [--images 20000] [--repeats 3] [--train 3000]

Trains a small CNN once with `local_runner.py --infer-dir` (`--train` Fashion-MNIST training
images, one epoch, blessed at a low threshold, Beam on every core:
`--direct_running_mode=multi_processing --direct_num_workers=0`), so that the run's own
InferenceExampleGen ingests the `--images` unlabelled files (the official test set first, then
training images the model did not see) and its BulkInferrer scores them once. Then, alternating,
`--repeats` times each: BulkInferrer's executor alone on that ingested split with the same Beam
flags (what the pipeline's stage runs: read, parse, RunInference on bulk_inference, write
PredictionLogs), and `pipeline.predict --output predictions.csv` on the folder in a fresh
process (listing, reading, decoding and the model, one process). Images/s: median (min–max).
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

from benchmarks import fashion_mnist, measure
from benchmarks.report import machine, spread, write_section
from schemas import nodes
from schemas.features import BULK_INFERENCE_SIGNATURE
from schemas.filenames import INFER_SPLIT

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SECTION = "## Batch inference: BulkInferrer vs pipeline.predict"
BEAM_ARGS = "--direct_running_mode=multi_processing --direct_num_workers=0"


def _export(dest: str, count: int, train: int):
  """`count` unlabelled PNGs (test set, then training images from index `train` on) in
  DEST/unlabelled/part-<n>/, and `train` labelled training images in DEST/train/<class>/."""
  import tensorflow as tf  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)

  done = os.path.join(dest, f"export-{count}-{train}.complete")
  unlabelled, labelled = os.path.join(dest, "unlabelled"), os.path.join(dest, "train")
  if os.path.exists(done):
    return unlabelled, labelled
  test_images, _ = fashion_mnist.arrays("test")
  train_images, train_labels = fashion_mnist.arrays("train")
  pool = list(test_images) + list(train_images[train:])
  for i, pixels in enumerate(pool[:count]):
    folder = os.path.join(unlabelled, f"part-{i // 1000:02d}")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f"{i:06d}.png"), "wb") as f:
      f.write(tf.io.encode_png(pixels[:, :, None]).numpy())
  for i in range(train):
    folder = os.path.join(labelled, fashion_mnist.CLASSES[train_labels[i]])
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f"train_{i:05d}.png"), "wb") as f:
      f.write(tf.io.encode_png(train_images[i][:, :, None]).numpy())
  open(done, "w").close()
  return unlabelled, labelled


def _bulk_inferrer(examples_uri: str, model_uri: str, out: str) -> float:
  """Seconds of BulkInferrer's executor on the ingested split, with BEAM_ARGS."""
  from tfx import v1 as tfx  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)
  from tfx.components.bulk_inferrer import executor  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)
  from tfx.dsl.components.base import base_beam_executor  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)
  from tfx.types import artifact_utils, standard_artifacts  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)
  from tfx.utils import proto_utils  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)

  examples, model, result = (
    standard_artifacts.Examples(),
    standard_artifacts.Model(),
    standard_artifacts.InferenceResult(),
  )
  examples.uri, model.uri, result.uri = examples_uri, model_uri, out
  examples.split_names = artifact_utils.encode_split_names([INFER_SPLIT])
  os.makedirs(out, exist_ok=True)
  context = base_beam_executor.BaseBeamExecutor.Context(
    beam_pipeline_args=BEAM_ARGS.split(), tmp_dir=os.path.join(out, ".tmp")
  )
  start = time.perf_counter()
  executor.Executor(context).Do(
    {"examples": [examples], "model": [model]},
    {"inference_result": [result]},
    {
      "data_spec": proto_utils.proto_to_json(tfx.proto.DataSpec(example_splits=[INFER_SPLIT])),
      "model_spec": proto_utils.proto_to_json(
        tfx.proto.ModelSpec(model_signature_name=[BULK_INFERENCE_SIGNATURE])
      ),
    },
  )
  return time.perf_counter() - start


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--images", type=int, default=20000)
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--train", type=int, default=3000)
  parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "inference-bench"))
  args = parser.parse_args()
  unlabelled, labelled = _export(args.work, args.images, args.train)
  out_dir = os.path.join(args.work, "out")
  command = [
    sys.executable,
    "local_runner.py",
    "--data-dir",
    labelled,
    "--infer-dir",
    unlabelled,
    "--output-dir",
    out_dir,
    "--image-size",
    "28",
    "--channels",
    "1",
    "--epochs",
    "1",
    "--accuracy-threshold",
    "0.3",
    "--min-class-recall",
    "0",
    "--min-class-precision",
    "0",
    "--beam-pipeline-args",
    BEAM_ARGS,
  ]
  summary_path = os.path.join(out_dir, "run_summary.json")
  if os.path.exists(summary_path):  # an earlier run of this benchmark: its model and ingestion
    with open(summary_path) as f:
      summary, pipeline_wall = json.load(f), None
  else:
    summary, pipeline_wall, _ = measure.pipeline(command, out_dir)
  block = summary.get("inference") or {}
  if block.get("status") != "scored":
    sys.exit(f"the run scored nothing: {block}")
  (examples_uri,) = glob.glob(
    os.path.join(out_dir, "pipeline", nodes.INFERENCE_EXAMPLE_GEN, "examples", "*")
  )
  scored = block["images_scored"]
  load = os.getloadavg()[0]
  bulk, predict = [], []
  for i in range(args.repeats):  # alternating, so both see the same machine state
    seconds = _bulk_inferrer(
      examples_uri, summary["model_path"], os.path.join(args.work, f"bi-{i}")
    )
    bulk.append(scored / seconds)
    csv_path = os.path.join(args.work, f"predict-{i}.csv")
    done, wall, _ = measure.run(
      [
        sys.executable,
        "-m",
        "pipeline.predict",
        "--model",
        summary["pushed_model_path"],
        "--output",
        csv_path,
        unlabelled,
      ],
      stdout=subprocess.PIPE,
      stderr=subprocess.PIPE,
      text=True,
    )
    if done.returncode != 0:
      sys.exit(f"pipeline.predict failed: {done.stderr[-2000:]}")
    predict.append(args.images / wall)
    print(
      json.dumps({"bulk_inferrer_images_s": bulk[-1], "predict_images_s": predict[-1]}), flush=True
    )
  stages = summary["stage_seconds"]
  lines = [
    SECTION,
    "",
    f"Command: `python -m benchmarks.inference_benchmark {' '.join(sys.argv[1:])}` "
    f"({time.strftime('%Y-%m-%d')}; {machine()}; load average {load:.1f} at the start; "
    f"{args.repeats} alternating repeats, median (min–max)).",
    f"Files: {args.images:,} Fashion-MNIST PNGs (28×28, grey), no class folders. Model: the "
    f"default CNN at 28×28×1, trained for one epoch on {args.train:,} other training images "
    f"(eval accuracy {summary['metrics']['accuracy']:.3f}), blessed and pushed.",
    "",
    "| path | images/s |",
    "|---|---:|",
    f"| BulkInferrer executor (DirectRunner, `{BEAM_ARGS}`; bulk_inference on the "
    f"ingested tf.Examples, PredictionLogs written) | {spread(bulk)} |",
    f"| `python -m pipeline.predict --output predictions.csv` (one process: list, read, "
    f"decode, serving_default, CSV; TensorFlow start-up included) | {spread(predict)} |",
    "",
    "In the pipeline run itself"
    + (f" ({pipeline_wall:.0f} s in all)" if pipeline_wall else "")
    + ", InferenceExampleGen took "
    f"{stages.get('InferenceExampleGen')} s to ingest the {args.images:,} files and BulkInferrer "
    f"{stages.get('BulkInferrer')} s to score them ({scored / stages['BulkInferrer']:.0f} "
    "images/s with its start-up); writing `inference/predictions.csv` from the PredictionLogs "
    f"is part of the report's {summary.get('report_seconds')} s.",
    "",
  ]
  write_section("BENCHMARKS.md", SECTION, "\n".join(lines))


if __name__ == "__main__":
  main()
