"""ImageExampleGen's executor vs a tight single-process loop writing the same tf.Examples.

  python -m benchmarks.ingest_benchmark [--sizes 70000,700000] [--repeats 3]

On Debian's dataset-fashion-mnist exported to PNG class folders (benchmarks/fashion_mnist.py):
a size under 70,000 is the first files of the export (hard links), 70,000 the export itself,
and a multiple of 70,000 the export that many times over (700,000: ten copies, each class
folder holding <class>/<copy>/<name>.png, 70,000 files a class). Each copy is made
byte-distinct by a PNG tEXt chunk naming it (same pixels), so that, as in a real collection of
that size, duplicate detection rejects none of them. The first run of a size builds its tree
(700,000 files: a few minutes, ~3 GB of disk in 4 KB blocks) and later runs reuse it.
Each measurement is a fresh process; the two contenders alternate within each repeat, and the
figures are medians with their min-max spread. Peak memory is the largest summed RSS of the
process and all its children, sampled every 50 ms. Results go to BENCHMARKS.md.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

from benchmarks import measure
from benchmarks.report import machine, spread, write_section

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SECTION = "## Ingestion: ImageExampleGen vs a Python loop"
BEAM_ARGS = os.environ.get(
  "INGEST_BEAM_ARGS", "--direct_running_mode=multi_processing --direct_num_workers=0"
).split()


def _loop(data_dir: str, out_dir: str) -> int:
  """The baseline: read, check, hash and write every file, one after another.

  It imports only what it uses (TensorFlow, the checks and the example builder: not TFX).
  """
  import tensorflow as tf  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)

  from components.image_example_gen import checks, ingest  # noqa: PLC0415  (TensorFlow/TFX behind it: loaded when used)

  count = 0
  options = tf.io.TFRecordOptions(compression_type="GZIP")
  with tf.io.TFRecordWriter(os.path.join(out_dir, "examples.gz"), options) as writer:
    for folder, _, files in os.walk(data_dir):
      for name in sorted(files):
        path = os.path.join(folder, name)
        with open(path, "rb") as f:
          data = f.read()
        reason, info = checks.inspect_image(data, 64_000_000, 1)
        if reason is None:
          relpath = os.path.relpath(path, data_dir)
          writer.write(
            ingest.make_example(data, relpath, relpath.split("/")[0], info).SerializeToString()
          )  # hashes the bytes
          count += 1
  return count


def _component(data_dir: str, out_dir: str) -> int:
  """The component's executor, as the pipeline runs it (Beam DirectRunner, all cores)."""
  from tfx.dsl.components.base import base_beam_executor  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)
  from tfx.types import standard_artifacts, standard_component_specs  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)

  from components.image_example_gen import ImageExampleGen, executor  # noqa: PLC0415  (TensorFlow/TFX behind it: loaded when used)

  examples = standard_artifacts.Examples()
  examples.uri = out_dir
  executor.Executor(base_beam_executor.BaseBeamExecutor.Context(beam_pipeline_args=BEAM_ARGS)).Do(
    {},
    {standard_component_specs.EXAMPLES_KEY: [examples]},
    dict(ImageExampleGen(data_dir).exec_properties),
  )
  return examples.get_int_custom_property("images_ingested")


def _child(kind: str, data_dir: str) -> None:
  with tempfile.TemporaryDirectory() as out_dir:
    start = time.perf_counter()
    count = (_loop if kind == "loop" else _component)(data_dir, out_dir)
    print(json.dumps({"seconds": time.perf_counter() - start, "images": count}))


def _busy_seconds() -> float:
  """CPU seconds the whole machine has spent busy since boot (/proc/stat), all processes."""
  with open("/proc/stat") as f:
    fields = [int(v) for v in f.readline().split()[1:]]
  return (sum(fields[:3]) + sum(fields[5:8])) / os.sysconf("SC_CLK_TCK")  # less idle, iowait


def _measure(kind: str, data_dir: str) -> dict:
  """The child's figures, its process tree's peak MB and CPU seconds (user + system), and how
  many cores other processes kept busy meanwhile (the machine is shared)."""
  before, busy = resource.getrusage(resource.RUSAGE_CHILDREN), _busy_seconds()
  start = time.perf_counter()
  done, _, peak_mb = measure.run(
    [sys.executable, "-m", "benchmarks.ingest_benchmark", "--child", kind, data_dir],
    stdout=subprocess.PIPE,
    stderr=subprocess.DEVNULL,
    text=True,
    cwd=os.path.dirname(os.path.dirname(__file__)) or ".",
  )
  if done.returncode:
    raise RuntimeError(f"{kind} run failed with exit status {done.returncode}")
  result = json.loads(done.stdout.strip().splitlines()[-1])
  result["peak_mb"] = peak_mb
  after = resource.getrusage(resource.RUSAGE_CHILDREN)  # Beam's workers are waited for too
  result["cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
  result["others_cores"] = max(0.0, _busy_seconds() - busy - result["cpu_s"]) / (
    time.perf_counter() - start
  )
  return result


def _subset(source: str, dest: str, size: int) -> str:
  """The first `size` files of source (sorted), hard-linked into dest's class folders."""
  if os.path.isdir(dest):
    return dest
  files = sorted((folder, name) for folder, _, names in os.walk(source) for name in names)
  for folder, name in files[:size]:
    target = os.path.join(dest, os.path.relpath(folder, source))
    os.makedirs(target, exist_ok=True)
    os.link(os.path.join(folder, name), os.path.join(target, name))
  return dest


def _data(full: str, work_dir: str, size: int) -> str:
  from benchmarks import fashion_mnist  # noqa: PLC0415  (the dataset export: TensorFlow, only when the data is missing)

  if size < 70000:
    return _subset(full, os.path.join(work_dir, f"n{size}"), size)
  if size % 70000:
    raise SystemExit(f"--sizes: {size} is neither under 70,000 nor a multiple of it")
  if size == 70000:
    return full
  copies = size // 70000
  return fashion_mnist.export_copies(
    os.path.join(work_dir, f"fashion-mnist-x{copies}"), copies, source=full
  )


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--sizes", default="70000,700000")
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--work-dir", default=os.path.join(tempfile.gettempdir(), "ingest-bench"))
  parser.add_argument("--output", default="BENCHMARKS.md")
  args = parser.parse_args()
  from benchmarks import fashion_mnist  # noqa: PLC0415  (the dataset export: TensorFlow, only when the data is missing)

  full = fashion_mnist.export(os.path.join(args.work_dir, "fashion-mnist"))
  rows = []
  for size in (int(s) for s in args.sizes.split(",")):
    data = _data(full, args.work_dir, size)
    runs = {"loop": [], "component": []}
    for repeat in range(args.repeats):
      order = ("loop", "component") if repeat % 2 == 0 else ("component", "loop")
      for kind in order:
        runs[kind].append(_measure(kind, data))
        print(f"n={size} repeat {repeat + 1} {kind}: {runs[kind][-1]}", flush=True)
    loop_rate = [r["images"] / r["seconds"] for r in runs["loop"]]
    comp_rate = [r["images"] / r["seconds"] for r in runs["component"]]
    ratios = [c / b for c, b in zip(comp_rate, loop_rate)]
    rows.append(
      f"| {size:,} | {spread(loop_rate)} | {spread(comp_rate)} | "
      f"{spread(ratios, 2)} | "
      f"{spread([r['peak_mb'] for r in runs['loop']])} | "
      f"{spread([r['peak_mb'] for r in runs['component']])} | "
      f"{spread([r['cpu_s'] for r in runs['loop']])} | "
      f"{spread([r['cpu_s'] for r in runs['component']])} | "
      f"{spread([r['others_cores'] for r in runs['loop'] + runs['component']], 2)} |"
    )
  _write(args.output, rows, args)


def _write(path: str, rows, args) -> None:
  section = "\n".join(
    [
      SECTION,
      "",
      f"Command: `python -m benchmarks.ingest_benchmark --sizes {args.sizes} --repeats "
      f"{args.repeats}` ({time.strftime('%Y-%m-%d')}; {machine()}).",
      "Fashion-MNIST PNGs in class folders (700,000: the 70,000 exported ten times, each "
      "copy byte-distinct by a PNG text chunk, in `<class>/<copy>/`); medians over the "
      "repeats with (min–max), start-up (imports, listing, Beam's workers) included. The loop "
      "reads, checks (checks.inspect_image), hashes and writes the same tf.Examples to one "
      "GZIP TFRecord file in one process; the component is ImageExampleGen's executor with "
      "Beam's DirectRunner in multi_processing mode on all cores, which also finds duplicates "
      "and writes train/eval splits and its ingest report. Peak memory: summed RSS of the "
      "process tree; CPU s: user + system of the process tree; other processes: the cores "
      "other programs on the machine kept busy during the runs (it is shared).",
      "",
      "| images | loop images/s | component images/s | component ÷ loop | loop peak MB | "
      "component peak MB | loop CPU s | component CPU s | other processes (cores) |",
      "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
      *rows,
      "",
    ]
  )
  write_section(path, SECTION, section)


if __name__ == "__main__":
  if len(sys.argv) == 4 and sys.argv[1] == "--child":
    _child(sys.argv[2], sys.argv[3])
  else:
    main()
