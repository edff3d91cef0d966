"""Batch inference: TFX's BulkInferrer against `python -m pipeline.predict --output` on the same
Fashion-MNIST files, and where BulkInferrer's time goes.

  python -m benchmarks.inference_benchmark [--images 20000] [--repeats 3] [--train 3000]

Trains a small CNN once with `local_runner.py --infer-dir` (`--train` Fashion-MNIST training
images, one epoch, blessed at a low threshold, Beam on every core:
`--direct_running_mode=multi_processing --direct_num_workers=0`), so that the run's own
InferenceExampleGen ingests the `--images` unlabelled files (the official test set first, then
training images the model did not see) and its BulkInferrer scores them once. Then, alternating,
`--repeats` times each, every one in a fresh process: BulkInferrer's executor alone on that
ingested split (read, parse, RunInference on bulk_inference, write PredictionLogs) with the
pipeline's default Beam flags (none: the DirectRunner in one process) and with the run's
multi_processing flags; `pipeline.predict --output predictions.csv` on the folder (listing,
reading, decoding and the model, one process, TensorFlow's start-up included); and BulkInferrer's
stages timed one by one on the same split (_stages). Images/s and seconds: median (min–max).
"""

import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict

from benchmarks import fashion_mnist, measure
from benchmarks.report import machine, spread, write_section
from schemas import nodes
from schemas.features import BULK_INFERENCE_SIGNATURE, SERVING_PIXELS_SIGNATURE
from schemas.filenames import INFER_SPLIT

SECTION = "## Batch inference: BulkInferrer vs pipeline.predict"
BEAM_ARGS = "--direct_running_mode=multi_processing --direct_num_workers=0"
BATCH = 256  # examples per session run in _stages (BulkInferrer's own batches vary: BatchElements)


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


def _bulk_inferrer(examples_uri: str, model_uri: str, out: str, beam_args: str) -> float:
  """Seconds of BulkInferrer's executor on the ingested split, with `beam_args`."""
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
    beam_pipeline_args=beam_args.split(), tmp_dir=os.path.join(out, ".tmp")
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


def _stages(examples_uri: str, model_uri: str, out: str) -> Dict[str, float]:
  """Seconds of each part of BulkInferrer's work on the ingested split, timed alone in one
  process: a Beam pipeline (DirectRunner, one process) that only reads and parses the
  tf.Examples as the executor does; tfx_bsl's model load (a TF1 session) and its first run, on
  one example (BatchElements' first batch); the bulk_inference
  signature's session runs, BATCH examples a run, and the model alone on the same number of
  pixels (serving_pixels); tfx_bsl building the PredictionLogs from the outputs; serializing and
  writing them as gzipped TFRecords (TensorFlow's writer)."""
  import apache_beam as beam  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)
  import numpy as np  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)
  import tensorflow as tf  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)
  from tfx.utils import path_utils  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)
  from tfx_bsl.public.beam import run_inference  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)
  from tfx_bsl.public.proto import model_spec_pb2  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)

  pattern = os.path.join(examples_uri, f"Split-{INFER_SPLIT}", "*")
  seconds = {}
  start = time.perf_counter()
  with beam.Pipeline() as pipeline:
    _ = (
      pipeline
      | beam.io.ReadFromTFRecord(pattern)
      | beam.Map(tf.train.Example.FromString)
      | beam.combiners.Count.Globally()
    )
  seconds["read"] = time.perf_counter() - start
  records = [r.numpy() for r in tf.data.TFRecordDataset(tf.io.gfile.glob(pattern), "GZIP")]
  batches = [records[i : i + BATCH] for i in range(0, len(records), BATCH)]

  model_dir = path_utils.serving_model_path(model_uri)
  spec = model_spec_pb2.InferenceSpecType(
    saved_model_spec=model_spec_pb2.SavedModelSpec(
      model_path=model_dir, signature_name=[BULK_INFERENCE_SIGNATURE]
    )
  )
  signatures = tf.compat.v1.saved_model.loader.load(
    tf.compat.v1.Session(graph=tf.compat.v1.Graph()), ["serve"], model_dir
  ).signature_def

  def tensors(name):
    signature = signatures[name]
    ((_, given),) = signature.inputs.items()
    return given.name, {alias: info.name for alias, info in signature.outputs.items()}

  given, fetches = tensors(BULK_INFERENCE_SIGNATURE)
  start = time.perf_counter()
  handler = run_inference.CreateModelHandler(spec)
  session = handler.load_model()
  session.run(fetches, {given: records[:1]})  # the first run builds the kernels (BatchElements: 1)
  seconds["load"] = time.perf_counter() - start
  start, outputs = time.perf_counter(), []
  for batch in batches:
    outputs.append(session.run(fetches, {given: batch}))
  seconds["signature"] = time.perf_counter() - start

  pixels_in, pixels_out = tensors(SERVING_PIXELS_SIGNATURE)
  pixels_shape = session.graph.get_tensor_by_name(pixels_in).shape[1:]
  pixels = np.zeros([BATCH, *pixels_shape], np.uint8)
  session.run(pixels_out, {pixels_in: pixels})
  start = time.perf_counter()
  for batch in batches:
    session.run(pixels_out, {pixels_in: pixels[: len(batch)]})
  seconds["model"] = time.perf_counter() - start

  start, logs = time.perf_counter(), []
  for batch, output in zip(batches, outputs):
    logs += handler._post_process(batch, batch, output)  # noqa: SLF001  (tfx_bsl's PredictionLog building alone: no public entry)
  seconds["logs"] = time.perf_counter() - start

  start = time.perf_counter()
  with tf.io.TFRecordWriter(os.path.join(out, "prediction_logs.gz"), "GZIP") as writer:
    for log in logs:
      writer.write(log.SerializeToString())
  seconds["write"] = time.perf_counter() - start
  return seconds


def _in_fresh_process(function: str, *args):
  """`function(*args)` of this module in a new Python process (its imports and first calls
  included, as a pipeline stage pays them); what it returns, through JSON."""
  code = (
    "import json, sys\n"
    "from benchmarks import inference_benchmark as b\n"
    f"print(json.dumps(b.{function}(*json.loads(sys.argv[1]))))"
  )
  done = subprocess.run(
    [sys.executable, "-c", code, json.dumps(args)], capture_output=True, text=True
  )
  if done.returncode != 0:
    sys.exit(f"{function} failed: {done.stderr[-2000:]}")
  return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--images", type=int, default=20000)
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--train", type=int, default=3000)
  parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "inference-bench"))
  args = parser.parse_args()
  start_load = os.getloadavg()
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # this process's and the fresh ones'
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
  scored, model_uri = block["images_scored"], summary["model_path"]
  load = os.getloadavg()
  default, multi, predict, stages = [], [], [], []
  for i in range(args.repeats):  # alternating, so all see the same machine state
    for beam_args, rates in (("", default), (BEAM_ARGS, multi)):
      out = os.path.join(args.work, f"bi-{i}-{len(beam_args)}")
      shutil.rmtree(out, ignore_errors=True)
      rates.append(
        scored / _in_fresh_process("_bulk_inferrer", examples_uri, model_uri, out, beam_args)
      )
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
    out = os.path.join(args.work, f"stages-{i}")
    os.makedirs(out, exist_ok=True)
    stages.append(_in_fresh_process("_stages", examples_uri, model_uri, out))
    print(
      json.dumps(
        {
          "bulk_inferrer_images_s": default[-1],
          "bulk_inferrer_multi_processing_images_s": multi[-1],
          "predict_images_s": predict[-1],
          "stage_seconds": stages[-1],
        }
      ),
      flush=True,
    )
  write_section(
    "BENCHMARKS.md",
    SECTION,
    _section(
      args, summary, pipeline_wall, scored, (start_load, load), default, multi, predict, stages
    ),
  )


def _section(args, summary, pipeline_wall, scored, loads, default, multi, predict, stages) -> str:
  """BENCHMARKS.md's section: the three paths' rates, then where BulkInferrer's time goes.
  `loads`: the load averages at the command's start and when the timed repeats began."""
  executor = [scored / rate for rate in default]  # seconds, default flags
  median = statistics.median
  timed = {key: [stage[key] for stage in stages] for key in stages[0]}
  timed["transform"] = [s["signature"] - s["model"] for s in stages]
  timed["rest"] = [
    seconds - sum(s[k] for k in ("read", "load", "signature", "logs", "write"))
    for seconds, s in zip(executor, stages)
  ]
  timed["multi"] = [scored / m - seconds for m, seconds in zip(multi, executor)]

  def row(label, key):
    values = timed[key]
    return (
      f"| {label} | {spread(values, 2)} | {median(values) / scored * 1000:.3f} | "
      f"{median(values) / median(executor):.0%} |"
    )

  run_stages = summary["stage_seconds"]
  return "\n".join(
    [
      SECTION,
      "",
      f"Command: `python -m benchmarks.inference_benchmark {' '.join(sys.argv[1:])}` "
      f"({time.strftime('%Y-%m-%d')}; {machine()}; load average "
      f"{', '.join(f'{x:.2f}' for x in loads[0])} at the command's start, "
      f"{', '.join(f'{x:.2f}' for x in loads[1])} when the timed repeats began; {args.repeats} "
      "alternating repeats, each in a fresh process, median (min–max)).",
      f"Files: {args.images:,} Fashion-MNIST PNGs (28×28, grey), no class folders. Model: the "
      f"default CNN at 28×28×1, trained for one epoch on {args.train:,} other training images "
      f"(eval accuracy {summary['metrics']['accuracy']:.3f}), blessed and pushed.",
      "",
      "| path | images/s | seconds |",
      "|---|---:|---:|",
      "| BulkInferrer executor, the pipeline's default Beam flags (none: DirectRunner, one "
      "process; bulk_inference on the ingested tf.Examples, PredictionLogs written) | "
      f"{spread(default)} | {spread(executor, 1)} |",
      f"| BulkInferrer executor, `{BEAM_ARGS}` ({os.cpu_count()} worker processes) | {spread(multi)} | "
      f"{spread([scored / m for m in multi], 1)} |",
      "| `python -m pipeline.predict --output predictions.csv` (one process: list, read, "
      "decode, serving_default, CSV; TensorFlow start-up included) | "
      f"{spread(predict)} | {spread([args.images / p for p in predict], 1)} |",
      "",
      "Where BulkInferrer's time goes (default flags): each part timed alone in a fresh process "
      f"on the same split ({BATCH} examples a session run; BulkInferrer's own batches are "
      "Beam's BatchElements sizes, which grow from 1 and barely change the rate), the rest "
      "being the executor's time less the parts.",
      "",
      "| part | seconds | ms per image | share of the executor's median |",
      "|---|---:|---:|---:|",
      row(
        "Beam reads the gzipped TFRecords and parses the tf.Examples (a pipeline of its own, "
        "start-up included)",
        "read",
      ),
      row("tfx_bsl loads the SavedModel into a TF1 session; its first run (one example)", "load"),
      row("bulk_inference's session runs, of which:", "signature"),
      row("&nbsp;&nbsp;the model alone (serving_pixels on as many pixels)", "model"),
      row(
        "&nbsp;&nbsp;parse_example, PNG decode and Transform's resize and serialize, parse_tensor",
        "transform",
      ),
      row(
        "tfx_bsl builds the PredictionLogs (per image: the example, and make_tensor_proto "
        "for probabilities and class_names)",
        "logs",
      ),
      row("serializing and writing them gzipped (TensorFlow's writer)", "write"),
      row(
        "the rest: Beam's bundles, BatchElements, coders, the executor's set-up "
        "(the executor's time less the parts above)",
        "rest",
      ),
      row(
        f"extra with `{BEAM_ARGS}`: {os.cpu_count()} worker processes each start Python, TensorFlow, TFX "
        "and the model (multi_processing's time less the default's)",
        "multi",
      ),
      "",
      f"With the pipeline's default flags BulkInferrer scores {median(default) / median(predict):.1f}× "
      f"as many images a second as pipeline.predict, and {median(default) / median(multi):.1f}× as "
      f"many as with `{BEAM_ARGS}`: one "
      f"TensorFlow session already uses every core, so {os.cpu_count()} worker processes score no faster per "
      "image and each pays the start-up above. The model itself is "
      f"{median(timed['model']) / median(executor):.0%} of the executor's time and tfx_bsl's "
      "per-image PredictionLogs "
      f"{median(timed['logs']) / median(executor):.0%}; decoding in the signature "
      "(one tf.map_fn over PNGs: TensorFlow has no batched PNG decoder) is "
      f"{median(timed['transform']) / median(executor):.0%}.",
      "",
      "In the pipeline run itself"
      + (f" ({pipeline_wall:.0f} s in all)" if pipeline_wall else "")
      + f", with `{BEAM_ARGS}`, InferenceExampleGen took "
      f"{run_stages.get('InferenceExampleGen')} s to ingest the {args.images:,} files and "
      f"BulkInferrer {run_stages.get('BulkInferrer')} s to score them "
      f"({scored / run_stages['BulkInferrer']:.0f} images/s with its start-up); writing "
      "`inference/predictions.csv` from the PredictionLogs is part of the report's "
      f"{summary.get('report_seconds')} s.",
      "",
      "",
    ]
  )


if __name__ == "__main__":
  main()
