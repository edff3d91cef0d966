"""Classifies image files with a pushed model, from the command line.

  python -m pipeline.predict photos/ cat.jpg            # the newest version in tfx_output/serving_model
  python -m pipeline.predict --model tfx_output/serving_model/1767000000 --json photos/
  python -m pipeline.predict --model tfx_output/serving_model/1767000000/tflite/model_int8.tflite photos/
  python -m pipeline.predict --explain heatmaps/ photos/   # also a Grad-CAM overlay per image
  python -m pipeline.predict --output predictions.csv photos/   # or .jsonl: a file, not lines

Prints each image's path, class and score (`--json`: one JSON object a line, with every
class's probability). Folders are searched at any depth for image files. A file that cannot
be classified gets one line saying why (the ingestion's reasons: empty_file, not_an_image,
truncated_file, ...) and the others go on. TensorFlow's start-up lines are left out of stderr
(--verbose shows them).

--output FILE.csv or FILE.jsonl writes one row per file instead, in the order the files are
found: path, sha256 (of the file's bytes), predicted_class, top_probability, p_<class> per class
in class-id order, and error (the reason, empty when the file was classified; a failed file's
prediction fields are empty). JSONL has the same keys, null where CSV is empty, plus
probabilities ({class: p}). The file is written whole or not at all (a temporary file beside it,
renamed), and the console gets only a summary line (stdout) and, past 500 files, progress lines
(stderr).

Exit status: 0 every image classified; 1 some could not be; 2 bad usage (no such model, no
image given, an --output name that is not .csv or .jsonl).
"""

import argparse
import contextlib
import csv
import hashlib
import json
import os
import sys
import tempfile
import time
from typing import Any, Dict, Iterator, List, Optional, TextIO, Tuple

from schemas import filenames
from schemas.outcomes import ExitCode

BATCH = 64
MAX_IMAGE_PIXELS = 64_000_000  # the pipeline's default --max-image-pixels
EXPLAIN_MIN_SIDE = 256  # overlays are scaled up (nearest) to at least this many pixels
OUTPUT_FORMATS = {".csv": "csv", ".jsonl": "jsonl"}
PROGRESS_MIN_FILES = 500  # --output: progress lines only for more files than this
PROGRESS_EVERY = 1000  # files, or
PROGRESS_SECONDS = 5.0  # whichever comes first


class UsageError(Exception):
  """A bad flag or model path: one line, exit 2."""


def default_model() -> str:
  return os.path.join(os.environ.get("IMAGE_PIPELINE_OUTPUT_DIR", "tfx_output"), "serving_model")


def resolve_model(path: str) -> Tuple[str, str]:
  """("saved_model", version dir) or ("tflite", file) for --model: a pushed version, a serving
  folder (its newest numbered version) or a .tflite file."""
  if os.path.isfile(path) and path.endswith(".tflite"):
    return "tflite", path
  if os.path.isfile(os.path.join(path, "saved_model.pb")):
    return "saved_model", path
  if os.path.isdir(path):
    versions = [
      int(n)
      for n in os.listdir(path)
      if n.isdigit() and os.path.isfile(os.path.join(path, n, "saved_model.pb"))
    ]
    if versions:
      return "saved_model", os.path.join(path, str(max(versions)))
  raise UsageError(
    f"--model {path}: not a pushed version (a folder with saved_model.pb), a "
    "serving folder with numbered versions, or a .tflite file"
  )


class SavedModelClassifier:
  """A pushed version's serving_default, called as TF Serving would (encoded image bytes)."""

  def __init__(self, version_dir: str):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    self._tf = tf
    self.model_dir = version_dir
    self._serve = tf.saved_model.load(version_dir).signatures["serving_default"]
    # The signature's own names replace these at the first call; until then (and when no file
    # can be classified) those the Trainer wrote beside the model, if any.
    from trainer_module import labels  # pylint: disable=import-outside-toplevel

    self.class_names: List[str] = labels.read_class_names(version_dir) or []

  def __call__(self, images: List[bytes]):
    outputs = self._serve(image_bytes=self._tf.constant(images))
    self.class_names = [c.decode() for c in outputs["class_names"].numpy()[0]]
    return outputs["probabilities"].numpy()

  def keras_dir(self) -> str:
    return self.model_dir


class TFLiteClassifier:
  """A .tflite model with the labels.txt and input.json beside it; images decoded and resized
  here, as input.json says (what an app does)."""

  def __init__(self, path: str, verbose: bool = False):
    from components.tflite_export import convert  # pylint: disable=import-outside-toplevel
    from pipeline import quiet  # pylint: disable=import-outside-toplevel

    folder = os.path.dirname(os.path.abspath(path))
    try:
      with open(os.path.join(folder, "input.json")) as f:
        self.spec = json.load(f)
      with open(os.path.join(folder, "labels.txt")) as f:
        self.class_names = f.read().splitlines()
    except OSError as e:
      raise UsageError(
        f"--model {path}: needs input.json and labels.txt beside it ({e.strerror}: {e.filename})"
      )
    self.folder = folder
    # The interpreter's first start prints "INFO: Created TensorFlow Lite XNNPACK delegate".
    with contextlib.nullcontext() if verbose else quiet.native_lines_dropped():
      self._model = convert.TFLiteClassifier(path)

  def __call__(self, images: List[bytes]):
    return self._model.predict(self.pixels(images))

  def pixels(self, images: List[bytes]):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    from trainer_module.preprocessing import decode_images  # pylint: disable=import-outside-toplevel

    return decode_images(
      tf.constant(images), self.spec["height"], self.spec["channels"], self.spec["resize"]
    ).numpy()

  def keras_dir(self) -> str:
    """The pushed version holding this tflite/ folder (its assets.extra/model.keras)."""
    return os.path.dirname(self.folder)


def find_images(paths: List[str]) -> List[str]:
  """Files named on the command line as they are; image files in folders, at any depth, sorted,
  hidden ones left out."""
  from components.image_example_gen.checks import has_image_extension  # pylint: disable=import-outside-toplevel

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
        if not n.startswith(".") and has_image_extension(n)
      ]
  return found


def read_image(path: str) -> Tuple[Optional[bytes], Optional[str]]:
  """(the file's bytes, None) of a usable image file, else (its bytes, or None when it cannot
  be read; why not)."""
  from components.image_example_gen.checks import inspect_image  # pylint: disable=import-outside-toplevel

  try:
    with open(path, "rb") as f:
      data = f.read()
  except FileNotFoundError:
    return None, "missing_file"
  except OSError as e:
    return None, f"unreadable_file ({e.strerror})"
  reason, _ = inspect_image(data, MAX_IMAGE_PIXELS)
  return data, reason


def classify(model, images: List[bytes]) -> List[Tuple[Optional[Any], Optional[str]]]:
  """(probabilities, None) or (None, error) per image: in batches, one by one when a batch
  fails, so that one image the decoder refuses only fails itself."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel

  results = []
  for start in range(0, len(images), BATCH):
    batch = images[start : start + BATCH]
    try:
      results += [(p, None) for p in model(batch)]
    except (tf.errors.OpError, ValueError) as e:
      if len(batch) == 1:
        results.append((None, f"decode_error ({str(e).strip().splitlines()[0][:200]})"))
      else:
        for image in batch:
          results += classify(model, [image])
  return results


def explain(
  keras_dir: str, paths: List[str], images: List[bytes], class_ids: List[int], out_dir: str
) -> List[str]:
  """Writes <out_dir>/<name>_gradcam.png per image: the model's input under its Grad-CAM
  heatmap for the predicted class; returns the paths."""
  import numpy as np  # pylint: disable=import-outside-toplevel
  import tensorflow as tf  # pylint: disable=import-outside-toplevel

  from trainer_module import contract, gradcam  # pylint: disable=import-outside-toplevel
  from trainer_module.preprocessing import decode_images  # pylint: disable=import-outside-toplevel

  spec, keras_model = contract.read_contract(keras_dir), contract.load_keras_model(keras_dir)
  if spec is None or keras_model is None:
    raise UsageError(
      f"--explain needs the Keras model and input.json of the pushed version "
      f"({os.path.join(keras_dir, filenames.MODEL_KERAS)} not found)"
    )
  cam = gradcam.GradCam(keras_model)
  os.makedirs(out_dir, exist_ok=True)
  written, taken = [], set()
  for start in range(0, len(images), BATCH):
    pixels = decode_images(
      tf.constant(images[start : start + BATCH]), spec["height"], spec["channels"], spec["resize"]
    ).numpy()
    heatmaps, _ = cam(pixels, class_ids[start : start + BATCH])
    for path, image, heatmap in zip(paths[start : start + BATCH], pixels, heatmaps):
      shown = gradcam.overlay(image, heatmap)
      scale = max(1, -(-EXPLAIN_MIN_SIDE // max(shown.shape[:2])))
      shown = np.repeat(np.repeat(shown, scale, axis=0), scale, axis=1)
      stem = os.path.splitext(os.path.basename(path))[0]
      name, n = f"{stem}_gradcam.png", 1
      while name in taken:
        n += 1
        name = f"{stem}_{n}_gradcam.png"
      taken.add(name)
      target = os.path.join(out_dir, name)
      with open(target, "wb") as f:
        f.write(tf.io.encode_png(shown).numpy())
      written.append(target)
  return written


def output_format(path: str) -> str:
  """--output's format, by its extension: csv or jsonl."""
  fmt = OUTPUT_FORMATS.get(os.path.splitext(path)[1].lower())
  if fmt is None:
    raise UsageError(f"--output {path}: name a .csv or .jsonl file")
  return fmt


def columns(class_names: List[str]) -> List[str]:
  """--output's columns: the pipeline's per-image predictions less the true class, as the
  pipeline's batch inference writes them (reporting/inference.py)."""
  from reporting import inference  # pylint: disable=import-outside-toplevel

  return inference.columns(class_names)


def output_row(
  path: str, sha256: Optional[str], outcome: Dict[str, Any], class_names: List[str]
) -> Dict[str, Any]:
  """One file's row; None where a field is empty (no bytes, no prediction, no error)."""
  probabilities = outcome.get("probabilities")
  values = list(probabilities.values()) if probabilities else [None] * len(class_names)
  return {
    "path": path,
    "sha256": sha256,
    "predicted_class": outcome.get("class"),
    "top_probability": outcome.get("score"),
    **{f"p_{name}": p for name, p in zip(class_names, values)},
    "error": outcome.get("error"),
  }


def write_rows(f: TextIO, fmt: str, rows: List[Dict[str, Any]], class_names: List[str]) -> None:
  if fmt == "csv":
    writer = csv.writer(f)  # quotes what needs it: commas, quotes, newlines in names and paths
    writer.writerow(columns(class_names))
    for row in rows:
      writer.writerow(["" if v is None else v for v in row.values()])
    return
  for row in rows:
    p = [row[f"p_{name}"] for name in class_names]
    probabilities = None if row["error"] else dict(zip(class_names, p))
    f.write(json.dumps({**row, "probabilities": probabilities}) + "\n")


@contextlib.contextmanager
def atomic_output(path: str) -> Iterator[TextIO]:
  """A temporary file in `path`'s folder, renamed to `path` when the block ends without an
  exception, removed otherwise: an interrupted run never leaves half a file under `path`."""
  folder = os.path.dirname(os.path.abspath(path))
  try:
    fd, temp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
  except OSError as e:
    raise UsageError(f"--output {path}: cannot write there ({e.strerror})")
  try:
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temp, 0o666 & ~umask)  # mkstemp's 0600 is not what a user's own file would get
    # surrogateescape: a file name that is not UTF-8 comes back as its own bytes
    with open(fd, "w", newline="", encoding="utf-8", errors="surrogateescape") as f:
      yield f
      f.flush()
      os.fsync(f.fileno())
    os.replace(temp, path)
  except BaseException:
    with contextlib.suppress(OSError):
      os.remove(temp)
    raise


class Progress:
  """--output's progress: "[predict] done/total images" on stderr every PROGRESS_EVERY files
  or PROGRESS_SECONDS, whichever comes first."""

  def __init__(self, total: int):
    self.total, self.shown, self.since = total, 0, time.monotonic()

  def __call__(self, done: int) -> None:
    if done >= self.total:
      return  # the summary line says it
    if done - self.shown >= PROGRESS_EVERY or time.monotonic() - self.since >= PROGRESS_SECONDS:
      print(f"[predict] {done}/{self.total} images", file=sys.stderr, flush=True)
      self.shown, self.since = done, time.monotonic()


def _parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(
    prog="python -m pipeline.predict", description=__doc__.split("\n\n")[0]
  )
  p.add_argument("paths", nargs="*", metavar="PATH", help="Image files or folders of them.")
  p.add_argument(
    "--model",
    default=None,
    help="A pushed version (a folder with saved_model.pb), a serving folder (its "
    "newest numbered version is used) or a .tflite file with input.json and "
    "labels.txt beside it (default: the newest version in "
    "$IMAGE_PIPELINE_OUTPUT_DIR/serving_model, tfx_output/ when unset).",
  )
  p.add_argument(
    "--json",
    action="store_true",
    help="One JSON object a line: path, class, score and probabilities (or error).",
  )
  p.add_argument(
    "--output",
    metavar="FILE",
    help="Write FILE.csv (with a header) or FILE.jsonl instead of a line per image: one row "
    "per file, in the order found: path, sha256, predicted_class, top_probability, "
    "p_<class> per class (class-id order), error (empty when classified). Written whole or "
    "not at all. The console then gets only a summary line on stdout (and, past "
    f"{PROGRESS_MIN_FILES} files, progress lines on stderr). Not with --json.",
  )
  p.add_argument(
    "--explain",
    metavar="OUT",
    help="Write a Grad-CAM overlay per image into OUT (<name>_gradcam.png).",
  )
  p.add_argument(
    "--verbose",
    action="store_true",
    help="Also show TensorFlow's own start-up and log lines on stderr.",
  )
  return p


def main(argv: Optional[List[str]] = None) -> int:
  args = _parser().parse_args(argv)
  from pipeline import quiet  # pylint: disable=import-outside-toplevel

  try:
    if args.output is not None:
      output_format(args.output)
      if args.json:
        raise UsageError("--json and --output: choose one")
      folder = os.path.dirname(os.path.abspath(args.output))
      if not os.path.isdir(folder):
        raise UsageError(f"--output {args.output}: no such folder")
      if not os.access(folder, os.W_OK):
        raise UsageError(f"--output {args.output}: cannot write into {folder}")
    if not args.paths:
      raise UsageError("no image given: pass image files or folders")
    kind, path = resolve_model(args.model or default_model())
    quiet.import_tensorflow(verbose=args.verbose)  # before anything below imports it
    files = find_images(args.paths)
    if not files:
      raise UsageError(f"no image files in {', '.join(args.paths)}")
    if kind == "saved_model":
      model = SavedModelClassifier(path)
    else:
      model = TFLiteClassifier(path, verbose=args.verbose)
    return _run(model, files, args)
  except UsageError as e:
    print(f"error: {e}", file=sys.stderr)
    return ExitCode.USAGE


def _run(model, files: List[str], args) -> int:
  """Reads and classifies the files BATCH at a time (only --explain keeps their bytes); then
  prints a line per file, or writes --output and prints a summary line."""
  outcomes: List[Dict[str, Any]] = []
  hashes: List[Optional[str]] = []
  kept: List[Optional[bytes]] = []  # --explain's images
  progress = Progress(len(files)) if args.output and len(files) > PROGRESS_MIN_FILES else None
  for start in range(0, len(files), BATCH):
    readable = []
    for path in files[start : start + BATCH]:
      data, reason = read_image(path)
      hashes.append(None if data is None else hashlib.sha256(data).hexdigest())
      kept.append(data if args.explain and not reason else None)
      outcomes.append({"path": path, "error": reason} if reason else {"path": path})
      if not reason:
        readable.append((len(outcomes) - 1, data))
    for (i, _), (probabilities, error) in zip(
      readable, classify(model, [data for _, data in readable])
    ):
      if error:
        outcomes[i]["error"] = error
        continue
      top = int(probabilities.argmax())
      outcomes[i].update(
        {
          "class": model.class_names[top],
          "score": float(probabilities[top]),
          "probabilities": dict(zip(model.class_names, map(float, probabilities))),
          "class_id": top,
        }
      )
    if progress:
      progress(len(outcomes))
  done = [i for i, o in enumerate(outcomes) if "error" not in o]
  if args.explain and done:
    overlays = explain(
      model.keras_dir(),
      [outcomes[i]["path"] for i in done],
      [kept[i] for i in done],
      [outcomes[i]["class_id"] for i in done],
      args.explain,
    )
    for i, overlay in zip(done, overlays):
      outcomes[i]["explanation"] = overlay
  status = ExitCode.ERROR if len(done) < len(files) else ExitCode.OK
  if args.output:
    rows = [
      output_row(path, sha, outcome, model.class_names)
      for path, sha, outcome in zip(files, hashes, outcomes)
    ]
    with atomic_output(args.output) as f:
      write_rows(f, output_format(args.output), rows, model.class_names)
    print(
      f"[predict] {len(files)} images: {len(done)} classified, {len(files) - len(done)} failed; "
      f"written to {args.output}"
    )
    return status
  for path, outcome in zip(files, outcomes):
    outcome.pop("class_id", None)
    if args.json:
      print(json.dumps(outcome))
    elif "error" in outcome:
      print(f"{path}: error: {outcome['error']}", file=sys.stderr)
    else:
      print(
        f"{path}\t{outcome['class']}\t{outcome['score']:.4f}"
        + (f"\t{outcome['explanation']}" if "explanation" in outcome else "")
      )
  return status


def run(argv: Optional[List[str]] = None) -> int:
  """main() with one line, never a traceback, for anything unexpected."""
  try:
    return main(argv)
  except KeyboardInterrupt:
    print("error: interrupted", file=sys.stderr)
    return 130
  except Exception as e:  # pylint: disable=broad-except
    print(
      f"error: {type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}",
      file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
  sys.exit(run())
