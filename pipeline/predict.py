"""Classifies image files with a pushed model, from the command line.

  python -m pipeline.predict photos/ cat.jpg            # the newest version in tfx_output/serving_model
  python -m pipeline.predict --model tfx_output/serving_model/1767000000 --json photos/
  python -m pipeline.predict --model tfx_output/serving_model/1767000000/tflite/model_int8.tflite photos/
  python -m pipeline.predict --model tfx_output/serving_model/1767000000/onnx/model.onnx photos/
  python -m pipeline.predict --top-k 3 photos/             # the three most probable classes
  python -m pipeline.predict --explain heatmaps/ photos/   # also a captioned Grad-CAM image each
  python -m pipeline.predict --output predictions.csv photos/   # or .jsonl: a file, not lines

Prints each image's path, class and score (--top-k K: the K most probable classes and scores).
--json prints, and --output FILE.csv or FILE.jsonl writes, one row per file with the same keys:
path, sha256 (of the file's bytes), predicted_class, top_probability, top_<i>_class and
top_<i>_probability for i = 2..K, p_<class> per class in class-id order, error (empty when the
file was classified) and, with --explain, explanation; JSON adds probabilities ({class: p}).
Folders are searched at any depth for image files. A file that cannot be classified gets its
reason (the ingestion's: empty_file, not_an_image, truncated_file, ...) and the others go on.
One closing line gives the image count, ms per image and where the results went (stderr; stdout
with --output, whose file is written whole or not at all). TensorFlow's start-up lines are left
out of stderr (--verbose shows them).

Usage mistakes (a path that does not exist, no model, an --output that is a folder or not .csv
or .jsonl) are refused in one line before TensorFlow loads. Defaults are the pipeline's settings
(pipeline/configs.py, IMAGE_PIPELINE_* in the environment): the newest version in
<output dir>/serving_model; images larger than max_image_pixels are refused as too_large.

Exit status: 0 every image classified; 1 some could not be; 2 bad usage.
"""

import argparse
import contextlib
import functools
import hashlib
import json
import os
import sys
import time
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from pipeline import configs, console, heavy_imports, quiet
from pipeline import predict_output as output
from pipeline.predict_output import UsageError
from schemas import filenames
from schemas.outcomes import ExitCode

BATCH = 64  # files read and scored at a time


class _Parser(argparse.ArgumentParser):
  """A usage error is one line (UsageError), not argparse's usage block."""

  def error(self, message):
    raise UsageError(message)


def _positive(text: str) -> int:
  try:
    value = int(text)
  except ValueError:
    value = 0
  if value < 1:
    raise argparse.ArgumentTypeError("must be 1 or more")
  return value


def _parser() -> argparse.ArgumentParser:
  p = _Parser(
    prog="python -m pipeline.predict",
    description=__doc__.split("\n\n")[0],
    allow_abbrev=False,
  )
  p.add_argument("paths", nargs="*", metavar="PATH", help="Image files or folders of them.")
  p.add_argument(
    "--model",
    default=None,
    help="A pushed version (a folder with saved_model.pb), a serving folder (its newest "
    "numbered version is used) or a .tflite or .onnx file with input.json and labels.txt "
    "beside it "
    "(default: the newest version in the pipeline's --output-dir/serving_model: "
    "$IMAGE_PIPELINE_OUTPUT_DIR, else tfx_output).",
  )
  p.add_argument(
    "--top-k",
    type=_positive,
    default=1,
    metavar="K",
    help="The K most probable classes and their probabilities, in every output form "
    "(default: %(default)s; at most the number of classes).",
  )
  p.add_argument(
    "--json",
    action="store_true",
    help="One JSON object a line: the --output row of each file, plus probabilities.",
  )
  p.add_argument(
    "--output",
    metavar="FILE",
    help="Write FILE.csv (with a header) or FILE.jsonl instead of a line per image: one row "
    "per file, in the order found: path, sha256, predicted_class, top_probability, "
    "top_<i>_class and top_<i>_probability (--top-k), p_<class> per class (class-id order), "
    "error (empty when classified). Written whole or not at all; the closing line goes to "
    f"stdout (and, past {output.PROGRESS_MIN_FILES} files, progress lines to stderr). Not "
    "with --json.",
  )
  p.add_argument(
    "--explain",
    metavar="OUT",
    help="Also write OUT/<name>_gradcam.png per image: the image beside its Grad-CAM "
    "overlay, captioned with the predicted class, its probability and the true class when "
    "the image's folder is named after one.",
  )
  p.add_argument(
    "--verbose",
    action="store_true",
    help="Also show TensorFlow's own start-up and log lines on stderr.",
  )
  return p


def settings() -> configs.PipelineConfig:
  """The pipeline's settings (its defaults, IMAGE_PIPELINE_* in the environment)."""
  try:
    return configs.parse([])[0]
  except configs.ConfigError as e:
    raise UsageError(str(e))


def check_path(path: str) -> None:
  """An image file or a folder: anything else is a usage mistake."""
  if os.path.isdir(path) or os.path.isfile(path):
    return
  if path.endswith(os.sep) and os.path.exists(path.rstrip(os.sep)):
    raise UsageError(f"{path} is not a folder")
  if not os.path.exists(path):  # a broken link too
    raise UsageError(f"{path} does not exist")
  raise UsageError(f"{path} is not a file or folder")


def resolve_model(path: str, given: bool = True) -> Tuple[str, str]:
  """("saved_model", version dir), ("tflite", file) or ("onnx", file) for --model: a pushed
  version, a serving folder (its newest numbered version), a .tflite or a .onnx file."""
  if not os.path.exists(path):
    if given:
      raise UsageError(f"--model {path} does not exist")
    raise UsageError(f"no model: {path} does not exist (run the pipeline, or pass --model)")
  if os.path.isfile(path) and path.endswith((".tflite", ".onnx")):
    return os.path.splitext(path)[1][1:], path
  if os.path.isfile(os.path.join(path, filenames.SAVED_MODEL)):
    return "saved_model", path
  if os.path.isdir(path):
    versions = [
      int(n)
      for n in os.listdir(path)
      if n.isdigit() and os.path.isfile(os.path.join(path, n, filenames.SAVED_MODEL))
    ]
    if versions:
      return "saved_model", os.path.join(path, str(max(versions)))
  raise UsageError(
    f"--model {path}: not a pushed version (a folder with saved_model.pb), a "
    "serving folder with numbered versions, or a .tflite or .onnx file"
  )


def keras_dir(kind: str, path: str) -> str:
  """The pushed version whose assets.extra/ holds the Keras model (--explain)."""
  return os.path.dirname(os.path.dirname(os.path.abspath(path))) if kind != "saved_model" else path


def file_contract(path: str) -> Tuple[Dict[str, Any], List[str]]:
  """(input.json, labels.txt's class names) beside a .tflite or .onnx file."""
  folder = os.path.dirname(os.path.abspath(path))
  try:
    with open(os.path.join(folder, filenames.TFLITE_CONTRACT)) as f:
      spec = json.load(f)
    with open(os.path.join(folder, filenames.TFLITE_LABELS)) as f:
      return spec, f.read().splitlines()
  except (OSError, ValueError) as e:
    why = f"{e.strerror}: {e.filename}" if isinstance(e, OSError) else f"input.json: {e}"
    raise UsageError(f"--model {path}: needs input.json and labels.txt beside it ({why})")


def check_explain(kind: str, path: str) -> None:
  """--explain needs the Keras model and input.json of the model's pushed version."""
  folder = keras_dir(kind, path)
  for needed in (filenames.MODEL_KERAS, filenames.MODEL_CONTRACT):
    if not os.path.isfile(os.path.join(folder, needed)):
      raise UsageError(
        "--explain needs the Keras model and input.json of the pushed version "
        f"({os.path.join(folder, needed)} not found)"
      )


def find_images(paths: List[str]) -> List[str]:
  """Files named on the command line as they are; image files in folders, at any depth, sorted,
  hidden ones left out."""
  found = []
  for path in paths:
    if not os.path.isdir(path):
      found.append(path)
      continue
    for root, folders, files in os.walk(path):
      folders[:] = sorted(d for d in folders if not d.startswith("."))
      found += [
        os.path.join(root, n)
        for n in sorted(files)
        if not n.startswith(".") and n.lower().endswith(filenames.IMAGE_EXTENSIONS)
      ]
  return found


class Plan(NamedTuple):
  """What a run will do, once its usage is checked."""

  kind: str  # saved_model, tflite or onnx
  model: str  # the version dir, .tflite or .onnx file
  files: List[str]  # the image files, in the order found
  contract: Optional[Tuple[Dict[str, Any], List[str]]] = None  # a file's contract and names


def check_usage(args, config: configs.PipelineConfig) -> Plan:
  """The run's plan, or the first usage mistake as a UsageError; only the file system is read:
  TensorFlow is not loaded yet."""
  if args.output is not None:
    if args.json:
      raise UsageError("--json and --output: choose one")
    output.check_output(args.output)
  if args.explain is not None and os.path.exists(args.explain) and not os.path.isdir(args.explain):
    raise UsageError(f"--explain {args.explain} is not a folder")
  if not args.paths:
    raise UsageError("no image given: pass image files or folders")
  for path in args.paths:
    check_path(path)
  kind, path = resolve_model(args.model or config.serving_model_dir, given=bool(args.model))
  beside = file_contract(path) if kind != "saved_model" else None
  if args.explain is not None:
    check_explain(kind, path)
  files = find_images(args.paths)
  if not files:
    raise UsageError(f"no image files in {', '.join(args.paths)}")
  return Plan(kind, path, files, beside)


def read_image(path: str, max_pixels: int) -> Tuple[Optional[bytes], Optional[str]]:
  """(the file's bytes, None) of a usable image file, else (its bytes, or None when it cannot
  be read; why not)."""
  from components.image_example_gen.checks import inspect_image  # noqa: PLC0415  (TensorFlow)

  try:
    with open(path, "rb") as f:
      data = f.read()
  except FileNotFoundError:
    return None, "missing_file"
  except OSError as e:
    return None, f"unreadable_file ({e.strerror})"
  reason, _ = inspect_image(data, max_pixels)
  return data, reason


def main(argv: Optional[List[str]] = None) -> int:
  try:
    args = _parser().parse_args(argv)
    config = settings()
    plan = check_usage(args, config)
  except UsageError as e:
    print(f"error: {e}", file=sys.stderr)
    return ExitCode.USAGE
  with heavy_imports.frozen():
    quiet.import_tensorflow(verbose=args.verbose)  # before anything below imports it
    from components import scoring  # noqa: PLC0415  (TensorFlow: after the usage checks)

  if plan.kind == "saved_model":
    scorer = scoring.SavedModelScorer(plan.model)
  else:  # the interpreter's first start prints "INFO: Created TensorFlow Lite XNNPACK delegate"
    with contextlib.nullcontext() if args.verbose else quiet.native_lines_dropped():
      scorer = scoring.FileScorer(plan.model, *plan.contract)
  return _run(scorer, plan, args, config.max_image_pixels)


class Scored(NamedTuple):
  """The files as read and scored, in order: None where a file has no value."""

  sha256: List[Optional[str]]
  probabilities: List[Any]  # numpy [classes] per classified file
  errors: List[Optional[str]]
  images: List[Optional[bytes]]  # kept for --explain only
  seconds: float  # reading and scoring, the model's loading left out


def score_files(scorer, files: List[str], max_pixels: int, keep: bool, progress=None) -> Scored:
  """Reads and classifies the files BATCH at a time (their bytes kept only when `keep`)."""
  from components.scoring import classify  # noqa: PLC0415  (TensorFlow, loaded)

  started = time.monotonic()
  scored = Scored([], [], [], [], 0.0)
  for start in range(0, len(files), BATCH):
    readable = []
    for path in files[start : start + BATCH]:
      data, reason = read_image(path, max_pixels)
      scored.sha256.append(None if data is None else hashlib.sha256(data).hexdigest())
      scored.images.append(data if keep and not reason else None)
      scored.probabilities.append(None)
      scored.errors.append(reason)
      if not reason:
        readable.append((len(scored.errors) - 1, data))
    for (i, _), (p, error) in zip(readable, classify(scorer, [data for _, data in readable])):
      scored.probabilities[i], scored.errors[i] = p, error
    if progress:
      progress(len(scored.errors))
  return scored._replace(seconds=time.monotonic() - started)


def _run(scorer, plan: Plan, args, max_pixels: int) -> int:
  """Scores the files; then prints a line per file, or writes --output, and the closing line."""
  from components.scoring import top_k  # noqa: PLC0415  (TensorFlow, loaded)

  files, explain = plan.files, args.explain is not None
  long_run = args.output and len(files) > output.PROGRESS_MIN_FILES
  scored = score_files(
    scorer, files, max_pixels, explain, output.Progress(len(files)) if long_run else None
  )
  names = scorer.class_names
  k = min(args.top_k, len(names)) or 1
  ranked = [[] if p is None else top_k(p, k) for p in scored.probabilities]
  done = [i for i, p in enumerate(scored.probabilities) if p is not None]
  explanations = _explain(plan, scored, ranked, names, done, args.explain) if explain else {}
  rows = [
    output.row(path, sha, p, r, names, k, error, explain, explanations.get(i))
    for i, (path, sha, p, r, error) in enumerate(
      zip(files, scored.sha256, scored.probabilities, ranked, scored.errors)
    )
  ]
  closing = functools.partial(
    output.closing_line,
    len(files),
    len(done),
    scored.seconds,
    explained=args.explain if explanations else None,
  )
  if args.output:
    with output.atomic_output(args.output) as f:
      output.write_rows(f, output.output_format(args.output), rows, names)
    print(closing(f"written to {args.output}"))
  else:
    for values in rows:
      if args.json:
        print(output.json_line(values, names))
      elif values["error"]:
        print(f"{values['path']}: error: {values['error']}", file=sys.stderr)
      else:
        print(output.text_line(values, k))
    sys.stdout.flush()
    print(closing("JSON lines on stdout" if args.json else "lines on stdout"), file=sys.stderr)
  return ExitCode.ERROR if len(done) < len(files) else ExitCode.OK


def _explain(plan: Plan, scored: Scored, ranked, names, done, out_dir) -> Dict[int, str]:
  """{file index: its Grad-CAM image} (predict_explain.py); {} and one line when skipped."""
  from pipeline import predict_explain  # noqa: PLC0415  (TensorFlow, loaded)

  if not done:
    return {}
  written, skipped = predict_explain.write(
    keras_dir(plan.kind, plan.model),
    [plan.files[i] for i in done],
    [scored.images[i] for i in done],
    [ranked[i][0] for i in done],
    [float(scored.probabilities[i][ranked[i][0]]) for i in done],
    names,
    out_dir,
  )
  if skipped:
    print(f"[predict] {skipped}", file=sys.stderr)
  return dict(zip(done, written))


def run(argv: Optional[List[str]] = None) -> int:
  """main() with one line, never a traceback, for anything unexpected."""
  try:
    return main(argv)
  except KeyboardInterrupt:
    print("error: interrupted", file=sys.stderr)
    return 130
  except UsageError as e:  # e.g. --output's folder became unwritable
    print(f"error: {e}", file=sys.stderr)
    return ExitCode.USAGE
  except Exception as e:  # noqa: BLE001  (one line, never a traceback)
    print(
      f"error: {type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}",
      file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
  console.exit_now(run())
