"""The report's look at the model's mistakes: gradcam.png and misclassified.png.

The gate split's images (at most MAX_IMAGES), decoded as the model's input.json says (what
Transform does), go through the Trainer's Keras model (assets.extra/model.keras, the served
model's own weights):
- gradcam.png: per class (at most MAX_CLASSES, those with the most mistakes first) its most
  confident mistakes (up to MISTAKES) and its most confident correct image, each under the
  Grad-CAM heatmap of the predicted class, with its file name, true and predicted labels;
- misclassified.png: the most confident mistakes of all classes (up to GALLERY), plain, with
  the same captions.
A feature map smaller than 4x4 (EfficientNet's below 128 pixels) gives heatmaps of a few
uniform cells: gradcam.png is then left out, and the model card says why (gradcam_skipped).
"""

import functools
import os
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from absl import logging

from reporting import escape
from reporting.plots import pyplot, save

MAX_IMAGES = 2000
MISTAKES = 3
MAX_CLASSES = 20
GALLERY = 24
CAPTION_CHARS = 22  # a file name longer than this keeps its end
FILES = ("gradcam.png", "misclassified.png")


def select(
  labels: np.ndarray, probabilities: np.ndarray, mistakes: int = MISTAKES
) -> Dict[int, Dict[str, List[int]]]:
  """class id -> {"mistakes": its images predicted as another class, most confident first
  (at most `mistakes`), "correct": its most confidently right image (at most one)}."""
  predicted, confidence = probabilities.argmax(axis=1), probabilities.max(axis=1)
  chosen = {}
  for class_id in range(probabilities.shape[1]):
    mine = np.flatnonzero(labels == class_id)
    wrong = mine[predicted[mine] != class_id]
    right = mine[predicted[mine] == class_id]
    chosen[class_id] = {
      "mistakes": wrong[np.argsort(-confidence[wrong], kind="stable")][:mistakes].tolist(),
      "correct": right[np.argsort(-confidence[right], kind="stable")][:1].tolist(),
    }
  return chosen


def most_confident_mistakes(
  labels: np.ndarray, probabilities: np.ndarray, count: int = GALLERY
) -> List[int]:
  predicted, confidence = probabilities.argmax(axis=1), probabilities.max(axis=1)
  wrong = np.flatnonzero(predicted != labels)
  return wrong[np.argsort(-confidence[wrong], kind="stable")][:count].tolist()


def load(model_dir: str, examples_uri: str, split: str, limit: int = MAX_IMAGES):
  """(uint8 pixels [n, h, w, c], label ids, class names, Keras model, file names) of a split's
  first `limit` images."""
  from components import scoring  # noqa: PLC0415  (TensorFlow: only when a report is written)
  from components.image_example_gen import records  # noqa: PLC0415  (as above)

  spec, model, class_names = scoring.load_keras(model_dir)
  found = list(records.read(examples_uri, split, limit))
  labels = [class_names.index(r.label) if r.label in class_names else -1 for r in found]
  pixels = scoring.decode([r.image for r in found], spec)
  return pixels, np.array(labels), class_names, model, [r.file_name for r in found]


def caption(files: Optional[List[str]], index: int) -> str:
  """The image's file name (its last CAPTION_CHARS characters) as a caption's first line."""
  if not files:
    return ""
  name = escape.plot(os.path.basename(files[index]) or files[index])
  return (name if len(name) <= CAPTION_CHARS else "…" + name[-CAPTION_CHARS + 1 :]) + "\n"


def _title(figure, text: str) -> None:
  """A title above the panels' own titles, whatever the figure's height."""
  figure.tight_layout()
  # room for the title and the top row's two-line panel titles
  figure.subplots_adjust(
    top=1 - (0.7 + 0.15 * text.count("\n")) / figure.get_figheight(), hspace=0.4
  )
  figure.suptitle(text, fontsize=9, y=1 - 0.05 / figure.get_figheight())


def class_label(class_names: List[str], class_id: int) -> str:
  """A class name for a caption, shown as written ('$' is no TeX)."""
  return escape.plot(class_names[class_id]) if 0 <= class_id < len(class_names) else "?"


def _show(axes, image: np.ndarray) -> None:
  if image.shape[-1] == 1:
    axes.imshow(image[..., 0], cmap="gray", vmin=0, vmax=255)
  else:
    axes.imshow(image.astype(np.uint8))
  axes.set_xticks([])
  axes.set_yticks([])


def plot_gradcam(
  pixels: np.ndarray,
  labels: np.ndarray,
  probabilities: np.ndarray,
  class_names: List[str],
  cam,
  path: Optional[str] = None,
  files: Optional[List[str]] = None,
):
  """Rows of classes: the most confident correct image, then the most confident mistakes,
  each with its heatmap for the predicted class (`cam`: a trainer_module.gradcam.GradCam),
  captioned with its file name when `files` are given."""
  from trainer_module.gradcam import overlay  # noqa: PLC0415  (TensorFlow/TFX behind it: loaded when used)

  chosen = select(labels, probabilities)
  rows = sorted(chosen, key=lambda c: (-len(chosen[c]["mistakes"]), c))[:MAX_CLASSES]
  rows.sort()
  indices = sorted({i for c in rows for i in chosen[c]["correct"] + chosen[c]["mistakes"]})
  heatmaps = dict(zip(indices, cam(pixels[indices])[0])) if indices else {}
  columns = 1 + MISTAKES
  figure, grid = pyplot().subplots(
    len(rows), columns, figsize=(2.0 * columns, 2.2 * len(rows)), squeeze=False
  )
  predicted = probabilities.argmax(axis=1)
  for row, class_id in zip(grid, rows):
    shown = chosen[class_id]["correct"][:1] or [None]
    cells = [(shown[0], "correct")] + [(i, "mistake") for i in chosen[class_id]["mistakes"]]
    for axes in row:
      axes.axis("off")
    for axes, (index, kind) in zip(row, cells):
      if index is None:
        axes.text(
          0.5,
          0.5,
          f"{class_label(class_names, class_id)}:\nnone right",
          ha="center",
          va="center",
          fontsize=8,
        )
        continue
      axes.axis("on")
      _show(axes, overlay(pixels[index], heatmaps[index]))
      axes.set_title(
        f"{caption(files, index)}true {class_label(class_names, class_id)}\npredicted "
        f"{class_label(class_names, predicted[index])} "
        f"{probabilities[index].max():.2f}",
        fontsize=8,
        color="darkgreen" if kind == "correct" else "firebrick",
      )
  _title(
    figure,
    f"Grad-CAM ({cam.layer_name}): per class its most confident correct image, "
    "then its most confident mistakes;\nred: the evidence for the predicted class"
    + (
      f" ({len(rows)} of {len(chosen)} classes: those with most mistakes)"
      if len(rows) < len(chosen)
      else ""
    ),
  )
  return save(figure, path)


def plot_misclassified(
  pixels: np.ndarray,
  labels: np.ndarray,
  probabilities: np.ndarray,
  class_names: List[str],
  path: Optional[str] = None,
  files: Optional[List[str]] = None,
):
  """The most confident mistakes of all classes, plain, with true and predicted labels (and
  the file name, when `files` are given)."""
  wrong = most_confident_mistakes(labels, probabilities)
  total = int(np.sum(probabilities.argmax(axis=1) != labels))
  return gallery(
    pixels[wrong],
    [
      f"{caption(files, index)}true {class_label(class_names, labels[index])}\npredicted "
      f"{class_label(class_names, probabilities[index].argmax())} "
      f"{probabilities[index].max():.2f}"
      for index in wrong
    ],
    f"Misclassified: the {len(wrong)} most confident of {total} mistakes on {len(labels)} images"
    if total
    else f"No mistakes on {len(labels)} images",
    path,
  )


def gallery(pixels: np.ndarray, captions: List[str], title: str, path: Optional[str] = None):
  """Images six a row, each under its caption (made safe by the caller: escape.plot, _label,
  _caption), below a title."""
  columns = 6
  rows = max(1, -(-len(captions) // columns))
  figure, grid = pyplot().subplots(
    rows, columns, figsize=(1.8 * columns, 2.0 * rows), squeeze=False
  )
  for axes in grid.flat:
    axes.axis("off")
  for axes, image, caption in zip(grid.flat, pixels, captions):
    axes.axis("on")
    _show(axes, image)
    axes.set_title(caption, fontsize=8)
  _title(figure, title)
  return save(figure, path)


@functools.lru_cache(maxsize=1)  # the report is written twice (report/ and beside the push)
def _analysis(model_dir: str, examples_uri: str, split: str) -> Tuple[Any, ...]:
  from components import scoring  # noqa: PLC0415  (TensorFlow: only when a report is written)
  from trainer_module.gradcam import GradCam  # noqa: PLC0415  (as above)

  pixels, labels, class_names, model, files = load(model_dir, examples_uri, split)
  probabilities = scoring.keras_probabilities(model, pixels) if len(pixels) else np.zeros((0, 0))
  return pixels, labels, probabilities, class_names, GradCam(model), files


def analyse(model_dir: str, examples_uri: str, split: str):
  """(pixels, label ids, probabilities, class names, GradCam, file names) of the split's first
  MAX_IMAGES images, computed once."""
  return _analysis(model_dir, examples_uri, split)


def _analysed(record):
  """analyse() of the run's model and gate split, or None without a model to explain."""
  from tfx.utils import path_utils  # noqa: PLC0415  (TFX: only when a report is written)

  if not record.model_path or not record.examples_path:
    return None
  split = record.metrics.get("split", "eval")
  return analyse(path_utils.serving_model_path(record.model_path), record.examples_path, split)


def gradcam_skipped(record) -> Optional[str]:
  """Why the report has no gradcam.png although the run has a model (its feature map is too
  coarse: trainer_module/gradcam.py), or None."""
  try:
    analysed = _analysed(record)
  except Exception:  # noqa: BLE001  (write() logs why; the report goes on)
    return None
  return analysed[4].skip_reason() if analysed and len(analysed[0]) else None


def write(record, report_dir: str) -> List[str]:
  """Writes FILES for the run's model and gate split; returns their paths ([] when the run has
  no trained model, or it cannot be explained: the reason is logged, the report goes on).
  gradcam.png is left out, with its reason logged, when the feature map is smaller than 4x4."""
  try:
    analysed = _analysed(record)
    if not analysed or not len(analysed[0]):
      return []
    pixels, labels, probabilities, class_names, cam, files = analysed
    gradcam, misclassified = (os.path.join(report_dir, name) for name in FILES)
    if cam.skip_reason():
      logging.warning("%s", cam.skip_reason())
    else:
      plot_gradcam(pixels, labels, probabilities, class_names, cam, gradcam, files)
    plot_misclassified(pixels, labels, probabilities, class_names, misclassified, files)
    return [misclassified] if cam.skip_reason() else [gradcam, misclassified]
  except Exception as e:  # noqa: BLE001  (the report goes on without the pages)
    logging.warning("No Grad-CAM pages in the report: %s", e)
    return []
