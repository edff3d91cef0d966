"""Exports a version already pushed to ONNX or TFLite, held to the pipeline's parity gate.

  python -m pipeline.export --model tfx_output/serving_model/1767000000 --format onnx
  python -m pipeline.export --model VERSION_DIR --format tflite --images labelled/

The conversion, the files and the gate are TFLiteExport's (components/tflite_export/): on the
gated split of the run that pushed the version (its ImageExampleGen output, found through the
run records in <output dir>/runs/), or on --images DIR (a class-folder tree of labelled images,
which also calibrates int8 TFLite), every file's top-1 must agree with the version's
serving_default on at least 98 % of the images and its accuracy may be at most 1 point lower.
Files that pass are written into the version as <version>/<format>/ (staged and renamed into
place); files that fail are not written, and one line says why.

Exit status: 0 written; 3 the gate refused the files (nothing written); 2 bad usage (checked
before TensorFlow loads); 1 anything else.
"""

import argparse
import glob
import json
import os
import sys
import tempfile
from typing import List, NamedTuple, Optional

from pipeline import console, heavy_imports, quiet
from pipeline.predict_output import UsageError
from schemas import filenames
from schemas.outcomes import ExitCode
from schemas.settings import EXPORT_FORMATS

CALIBRATION_IMAGES = 200  # int8 TFLite's, as TFLiteExport's default
MAX_GATE_IMAGES = 5000


class _Parser(argparse.ArgumentParser):
  def error(self, message):
    raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
  p = _Parser(
    prog="python -m pipeline.export", description=__doc__.split("\n\n")[0], allow_abbrev=False
  )
  p.add_argument("--model", required=True, help="A pushed version: a folder with saved_model.pb.")
  p.add_argument("--format", required=True, choices=EXPORT_FORMATS, help="The format to export.")
  p.add_argument(
    "--images",
    help="A class-folder tree of labelled images to gate on (default: the gated split of the "
    "run that pushed the version).",
  )
  p.add_argument("--verbose", action="store_true", help="Show TensorFlow's start-up lines.")
  return p


class Source(NamedTuple):
  """Where the gate's images come from: a pushing run's examples, or a folder."""

  examples: Optional[str] = None  # ImageExampleGen's output
  split: Optional[str] = None  # the split its Evaluator gated on
  images: Optional[str] = None  # --images


def pushing_run(version_dir: str) -> Optional[Source]:
  """The examples and gated split of the run that pushed `version_dir`, from the run records
  beside its serving folder (<output dir>/runs/*.json), or None."""
  output_dir = os.path.dirname(os.path.dirname(version_dir))
  for path in sorted(glob.glob(os.path.join(output_dir, filenames.RUNS_DIR, "*.json"))):
    try:
      with open(path) as f:
        record = json.load(f)
    except (OSError, ValueError):
      continue
    pushed = record.get("pushed_model_path")
    examples, split = record.get("examples_path"), (record.get("metrics") or {}).get("split")
    if (
      pushed
      and os.path.abspath(pushed) == version_dir
      and examples
      and split
      and ("://" in examples or os.path.isdir(examples))
    ):
      return Source(examples=examples, split=split)
  return None


def check_usage(args) -> Source:
  """Where the gate's images come from, or the first usage mistake as a UsageError; only the
  file system is read."""
  version = os.path.abspath(args.model)
  if not os.path.isdir(version):
    raise UsageError(f"--model {args.model} does not exist or is not a folder")
  for needed in (filenames.SAVED_MODEL, filenames.MODEL_KERAS, filenames.MODEL_CONTRACT):
    if not os.path.isfile(os.path.join(version, needed)):
      raise UsageError(f"--model {args.model}: no {needed} (not a version this pipeline pushed)")
  if os.path.exists(os.path.join(version, args.format)):
    raise UsageError(f"--model {args.model} already has {args.format}/")
  if args.images is not None:
    if not os.path.isdir(args.images):
      raise UsageError(f"--images {args.images} is not a folder")
    return Source(images=args.images)
  found = pushing_run(version)
  if found is None:
    raise UsageError(
      f"no run record in {os.path.join(os.path.dirname(os.path.dirname(version)), 'runs')} "
      f"names {args.model} with its examples: pass --images DIR (labelled images in class "
      "folders) to gate on"
    )
  return found


def folder_records(root: str) -> List:
  """The image files below `root` as Records, labelled by their first folder below it."""
  from components.image_example_gen.records import Record  # noqa: PLC0415  (TensorFlow)

  found = []
  for folder, folders, files in os.walk(root):
    folders[:] = sorted(d for d in folders if not d.startswith("."))
    for name in sorted(files):
      if name.startswith(".") or not name.lower().endswith(filenames.IMAGE_EXTENSIONS):
        continue
      path = os.path.join(folder, name)
      relative = os.path.relpath(path, root)
      with open(path, "rb") as f:
        found.append(Record(f.read(), relative.split(os.sep)[0], relative, ""))
  if not found:
    raise UsageError(f"--images {root}: no image files")
  return found[:MAX_GATE_IMAGES]


def main(argv: Optional[List[str]] = None) -> int:
  try:
    args = _parser().parse_args(argv)
    source = check_usage(args)
  except UsageError as e:
    print(f"error: {e}", file=sys.stderr)
    return ExitCode.USAGE
  with heavy_imports.frozen():
    quiet.import_tensorflow(verbose=args.verbose)
    from components.serving_pusher.executor import add_folder  # noqa: PLC0415  (TensorFlow)
    from components.tflite_export import executor, parity  # noqa: PLC0415  (TensorFlow)

  version = os.path.abspath(args.model)
  if source.images:
    try:
      labelled = folder_records(source.images)
    except UsageError as e:
      print(f"error: {e}", file=sys.stderr)
      return ExitCode.USAGE
    name = os.path.basename(os.path.normpath(source.images))
    gate = executor.Images(name, labelled)
    calibration = executor.Images(name, labelled[:CALIBRATION_IMAGES])
  else:
    gate = executor.Images(
      source.split, executor.read_examples(source.examples, source.split, MAX_GATE_IMAGES)
    )
    calibration = executor.Images(
      "train", executor.read_examples(source.examples, "train", CALIBRATION_IMAGES, sample=True)
    )
  bounds = {"min_agreement": parity.MIN_AGREEMENT, "max_accuracy_drop": parity.MAX_ACCURACY_DROP}
  with tempfile.TemporaryDirectory() as staging:
    report = executor.export(version, [args.format], gate, calibration, staging, bounds)
    found = report[args.format]
    if not found["passed"]:
      print(f"[export] {args.format}: not written: {found['reason']}")
      return ExitCode.NOT_BLESSED
    add_folder(version, args.format, os.path.join(staging, args.format))
  files = "; ".join(
    f"{found[k]['file']} {found[k]['bytes'] / 1024:.0f} KiB, top-1 agrees with the SavedModel "
    f"on {found[k]['agreement']:.1%}, accuracy {found[k]['accuracy']:.4f}"
    for k in executor.FOLDERS[args.format].KINDS
  )
  print(
    f"[export] {args.format}: {files} (the SavedModel's {found['saved_model']['accuracy']:.4f}) "
    f"on {found['images']} {found['split']} images; written to "
    f"{os.path.join(version, args.format)}"
  )
  return ExitCode.OK


if __name__ == "__main__":
  console.exit_now(int(main()))
