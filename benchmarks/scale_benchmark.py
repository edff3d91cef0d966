"""224-pixel photographs through the pipeline: bytes per transformed image, the Trainer's memory
with the default cache, and EfficientNetB0's training speed against in-memory arrays.

  python -m benchmarks.scale_benchmark [--images 5000] [--efficientnet-images 500] [--repeats 3]

Data: benchmarks/photos.py (random JPEG crops of five scikit-image photographs, 224-336 px;
needs `scripts/setup.sh bench`). Per repeat, in fresh processes one after the other:
1. `local_runner.py` with the default CNN at --image-size 224, one epoch, default cache, on
   --images photos: bytes per image of ExampleGen's and Transform's outputs on disk, and the
   peak memory (summed RSS of the process tree) while the Trainer stage ran (its start and end
   read from MLMD). "Before" bytes are the float32 tf.Examples the previous Transform wrote,
   re-created for the same images (GZIP TFRecord, like Transform's output).
2. `local_runner.py --model efficientnet` (B0, from scratch, 224 px, 2 epochs) on
   --efficientnet-images photos, then the same model fitted on the same training images held
   as uint8 numpy arrays: training images/s of epoch 2 on both sides, timed by the same callback.
Results go to BENCHMARKS.md.
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

from benchmarks import measure, photos
from benchmarks.report import machine, spread, write_section
from schemas import nodes
from schemas.features import IMAGE_XF
from tools.runner import local_runner_command

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SECTION = "## 224-pixel photographs: compact transformed images, Trainer memory, EfficientNetB0"
SIZE = 224
EPOCHS = 2


def _records(pattern: str) -> int:
  import tensorflow as tf  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)

  return sum(1 for _ in tf.data.TFRecordDataset(glob.glob(pattern), compression_type="GZIP"))


def _bytes_per_record(pattern: str) -> float:
  files = glob.glob(pattern)
  return sum(os.path.getsize(f) for f in files) / _records(pattern)


def _float32_bytes(raw_pattern: str, count: int, work: str) -> float:
  """Bytes per image of the previous Transform's output, re-created: its arithmetic (decode to
  float32 in [0, 1], bilinear resize, clip) and its float32 tf.Example feature, GZIP'd."""
  import tensorflow as tf  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)

  records = tf.data.TFRecordDataset(glob.glob(raw_pattern), compression_type="GZIP").take(count)
  path = os.path.join(work, "float32.gz")
  with tf.io.TFRecordWriter(path, tf.io.TFRecordOptions(compression_type="GZIP")) as writer:
    for record in records:
      data = tf.train.Example.FromString(record.numpy()).features.feature["image"].bytes_list
      image = tf.io.decode_image(
        data.value[0], channels=3, dtype=tf.float32, expand_animations=False
      )
      floats = tf.clip_by_value(tf.image.resize(image, [SIZE, SIZE]), 0.0, 1.0)
      writer.write(
        tf.train.Example(
          features=tf.train.Features(
            feature={
              "image_xf": tf.train.Feature(
                float_list=tf.train.FloatList(value=floats.numpy().reshape(-1))
              ),
              "label_xf": tf.train.Feature(int64_list=tf.train.Int64List(value=[0])),
            }
          )
        ).SerializeToString()
      )
  return os.path.getsize(path) / count


def _stage_window(out_dir: str, stage: str):
  """(start, end) unix seconds of a stage of the run in out_dir, from MLMD."""
  from reporting import record as records  # noqa: PLC0415  (TensorFlow/TFX behind it: loaded when used)

  record = records.open_run(os.path.join(out_dir, "metadata.db"), "scale")
  execution = record.executions[stage]
  return execution.create_time_since_epoch / 1000, execution.last_update_time_since_epoch / 1000


def _runner(data_dir: str, out_dir: str, *flags):
  done, wall, samples = measure.run_sampled(
    local_runner_command(
      data_dir,
      out_dir,
      "scale",
      "--image-size",
      str(SIZE),
      "--accuracy-threshold",
      "0",
      "--min-class-recall",
      "0",
      "--min-class-precision",
      "0",
      *flags,
    ),
    stdout=subprocess.PIPE,
    text=True,
  )
  if done.returncode not in (0, 3):
    raise RuntimeError(f"local_runner.py failed with exit status {done.returncode}")
  with open(os.path.join(out_dir, "run_summary.json")) as f:
    return json.load(f), wall, samples, done.stdout


def _cnn_run(data_dir: str, out_dir: str) -> dict:
  summary, wall, samples, stdout = _runner(data_dir, out_dir, "--epochs", "1")
  start, end = _stage_window(out_dir, nodes.TRAINER)
  pipeline_root = os.path.join(out_dir, "pipeline")
  raw = os.path.join(pipeline_root, nodes.EXAMPLE_GEN, "examples", "*", "Split-train", "*")
  transformed = os.path.join(
    pipeline_root, nodes.TRANSFORM, "transformed_examples", "*", "Split-train", "*"
  )
  return {
    "images": summary["images_ingested"],
    "wall": wall,
    "trainer_seconds": summary["stage_seconds"][nodes.TRAINER],
    "trainer_peak_mb": max(mb for t, mb in samples if start <= t <= end),
    "run_peak_mb": max(mb for _, mb in samples),
    "cache_choice": next(
      (line for line in stdout.splitlines() if line.startswith("[Trainer] cache:")), ""
    ),
    "source_bytes": _bytes_per_record(raw),
    "transformed_bytes": _bytes_per_record(transformed),
    "float32_bytes": _float32_bytes(raw, 200, out_dir),
  }


def _in_memory(out_dir: str, log_path: str) -> None:
  """The baseline: EfficientNetB0 on the pipeline's own training split, as uint8 arrays."""
  import tensorflow as tf  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)

  from trainer_module import callbacks, preprocessing  # noqa: PLC0415  (TensorFlow/TFX behind it: loaded when used)
  from trainer_module import model as model_lib  # noqa: PLC0415  (TensorFlow/TFX behind it: loaded when used)

  pattern = os.path.join(
    out_dir, "pipeline", nodes.EXAMPLE_GEN, "examples", "*", "Split-train", "*"
  )
  features = [
    tf.train.Example.FromString(r.numpy()).features.feature
    for r in tf.data.TFRecordDataset(glob.glob(pattern), compression_type="GZIP")
  ]
  names = sorted({f["label"].bytes_list.value[0] for f in features})
  x = np.concatenate(
    [
      preprocessing.decode_images(
        tf.constant([f["image"].bytes_list.value[0] for f in features[i : i + 64]]), SIZE, 3
      ).numpy()
      for i in range(0, len(features), 64)
    ]
  )
  y = np.array([names.index(f["label"].bytes_list.value[0]) for f in features])
  model = model_lib.compile_model(model_lib.build_model("efficientnet", SIZE, 3, len(names)), 1e-3)
  model.fit(
    {IMAGE_XF: x},
    y,
    batch_size=32,
    epochs=EPOCHS,
    shuffle=True,
    verbose=2,
    callbacks=[callbacks.EpochLog(log_path, len(y), "in_memory")],
  )


def _efficientnet_run(data_dir: str, out_dir: str) -> dict:
  summary, _, _, _ = _runner(
    data_dir, out_dir, "--model", "efficientnet", "--weights", "none", "--epochs", str(EPOCHS)
  )
  log = os.path.join(out_dir, "in_memory.jsonl")
  subprocess.run(
    [sys.executable, "-m", "benchmarks.scale_benchmark", "--in-memory", out_dir, "--log", log],
    check=True,
  )
  with open(log) as f:
    baseline = [json.loads(line) for line in f]
  return {
    "trainer": summary["training"]["epoch_log"][-1]["images_per_second"],
    "in_memory": baseline[-1]["images_per_second"],
    "train_images": sum(
      summary["split_details"]["train"]["classes"][c]["written"]
      for c in summary["split_details"]["train"]["classes"]
    ),
  }


def _write(results, command: str) -> None:
  cnn = [r["cnn"] for r in results]
  eff = [r["efficientnet"] for r in results]
  pixels = SIZE * SIZE * 3
  lines = [
    SECTION,
    "",
    f"Command: `{command}` ({time.strftime('%Y-%m-%d')}; {machine()}; {len(results)} "
    "repeat(s), each in fresh processes). No GPU was lent to these sessions, so no "
    "mixed-precision GPU figure is given.",
    f"Data: random JPEG crops of five scikit-image photographs (benchmarks/photos.py), "
    f"224-336 px, {cnn[0]['images']:,} images (CNN runs) and {eff[0]['train_images']:,} "
    "training images (EfficientNet runs); --image-size 224, 3 channels. Median (min–max) "
    "over repeats.",
    "",
    "| figure | value |",
    "|---|---:|",
    f"| source JPEG bytes per image (ExampleGen, GZIP) | {spread([c['source_bytes'] for c in cnn])} |",
    f"| transformed bytes per image before: float32 (GZIP) | {spread([c['float32_bytes'] for c in cnn])} |",
    f"| transformed bytes per image now: uint8 (GZIP) | {spread([c['transformed_bytes'] for c in cnn])} |",
    f"| now ÷ (224 × 224 × 3) | {spread([c['transformed_bytes'] / pixels for c in cnn], 3)} |",
    f"| before ÷ now | {spread([c['float32_bytes'] / c['transformed_bytes'] for c in cnn], 1)} |",
    f"| Trainer peak memory MB (CNN, 1 epoch, default cache) | {spread([c['trainer_peak_mb'] for c in cnn])} |",
    f"| whole run peak memory MB | {spread([c['run_peak_mb'] for c in cnn])} |",
    f"| Trainer seconds (CNN, 1 epoch) | {spread([c['trainer_seconds'] for c in cnn])} |",
    f"| EfficientNetB0 Trainer images/s (epoch {EPOCHS}) | {spread([e['trainer'] for e in eff], 1)} |",
    f"| EfficientNetB0 in-memory uint8 images/s (epoch {EPOCHS}) | {spread([e['in_memory'] for e in eff], 1)} |",
    f"| Trainer ÷ in-memory | {spread([e['trainer'] / e['in_memory'] for e in eff], 2)} |",
    "",
    f"The Trainer's cache choice: {cnn[0]['cache_choice']}",
    "",
  ]
  write_section("BENCHMARKS.md", SECTION, "\n".join(lines))


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--images", type=int, default=5000)
  parser.add_argument("--efficientnet-images", type=int, default=500)
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "scale-bench"))
  parser.add_argument("--in-memory", help=argparse.SUPPRESS)
  parser.add_argument("--log", help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.in_memory:
    _in_memory(args.in_memory, args.log)
    return

  per_class = args.images // len(photos.CLASSES)
  data = photos.export(os.path.join(args.work, f"photos-{per_class}"), per_class)
  small = args.efficientnet_images // len(photos.CLASSES)
  small_data = photos.export(os.path.join(args.work, f"photos-{small}"), small)
  results = []
  for repeat in range(args.repeats):
    runs = {}
    for name, run, source in (
      ("cnn", _cnn_run, data),
      ("efficientnet", _efficientnet_run, small_data),
    ):
      out_dir = os.path.join(args.work, f"{name}-run{repeat}")
      subprocess.run(["rm", "-rf", out_dir], check=True)
      runs[name] = run(source, out_dir)
    results.append(runs)
    print(json.dumps(results[-1]), flush=True)
  _write(results, " ".join(["python -m benchmarks.scale_benchmark", *sys.argv[1:]]))


if __name__ == "__main__":
  main()
