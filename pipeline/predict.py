"""Classifies image files with a pushed model, from the command line.

  python -m pipeline.predict photos/ cat.jpg            # the newest version in tfx_output/serving_model
  python -m pipeline.predict --model tfx_output/serving_model/1767000000 --json photos/
  python -m pipeline.predict --model tfx_output/serving_model/1767000000/tflite/model_int8.tflite photos/
  python -m pipeline.predict --explain heatmaps/ photos/   # also a Grad-CAM overlay per image

Prints each image's path, class and score (`--json`: one JSON object a line, with every
class's probability). Folders are searched at any depth for image files. A file that cannot
be classified gets one line saying why (the ingestion's reasons: empty_file, not_an_image,
truncated_file, ...) and the others go on. TensorFlow's start-up lines are left out of stderr
(--verbose shows them). Exit status: 0 every image classified; 1 some could not be; 2 bad usage
(no such model, no image given).
"""

import argparse
import contextlib
import json
import os
import sys
from typing import Any, Dict, List, Optional, Tuple

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2
BATCH = 64
MAX_IMAGE_PIXELS = 64_000_000  # the pipeline's default --max-image-pixels
EXPLAIN_MIN_SIDE = 256  # overlays are scaled up (nearest) to at least this many pixels


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
    self.class_names: List[str] = []

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
  """(bytes, None) of a usable image file, or (None, why not)."""
  from components.image_example_gen.checks import inspect_image  # pylint: disable=import-outside-toplevel

  try:
    with open(path, "rb") as f:
      data = f.read()
  except FileNotFoundError:
    return None, "missing_file"
  except OSError as e:
    return None, f"unreadable_file ({e.strerror})"
  reason, _ = inspect_image(data, MAX_IMAGE_PIXELS)
  return (None, reason) if reason else (data, None)


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
      f"({os.path.join(keras_dir, contract.KERAS_FILE)} not found)"
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
  if not args.paths:
    print("error: no image given: pass image files or folders", file=sys.stderr)
    return EXIT_USAGE
  from pipeline import quiet  # pylint: disable=import-outside-toplevel

  try:
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
    return EXIT_USAGE


def _run(model, files: List[str], args) -> int:
  outcomes: Dict[str, Dict[str, Any]] = {}
  readable = []
  for path in files:
    data, reason = read_image(path)
    if reason:
      outcomes[path] = {"path": path, "error": reason}
    else:
      readable.append((path, data))
  for (path, _), (probabilities, error) in zip(
    readable, classify(model, [data for _, data in readable])
  ):
    if error:
      outcomes[path] = {"path": path, "error": error}
      continue
    top = int(probabilities.argmax())
    outcomes[path] = {
      "path": path,
      "class": model.class_names[top],
      "score": float(probabilities[top]),
      "probabilities": dict(zip(model.class_names, map(float, probabilities))),
      "class_id": top,
    }
  done = [o for o in outcomes.values() if "error" not in o]
  if args.explain and done:
    by_path = dict(readable)
    overlays = explain(
      model.keras_dir(),
      [o["path"] for o in done],
      [by_path[o["path"]] for o in done],
      [o["class_id"] for o in done],
      args.explain,
    )
    for outcome, overlay in zip(done, overlays):
      outcome["explanation"] = overlay
  for path in files:
    outcome = outcomes[path]
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
  return EXIT_SOME_FAILED if len(done) < len(files) else EXIT_OK


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
