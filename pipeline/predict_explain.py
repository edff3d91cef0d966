"""`python -m pipeline.predict --explain OUT`: per image, OUT/<name>_gradcam.png, the image the
model saw beside the same image under the Grad-CAM heatmap of the predicted class (red: the
evidence), each scaled up to at least MIN_SIDE pixels, captioned with the predicted class, its
probability and the true class when known (the image's folder is named after a class). From the
version's assets.extra/model.keras; skipped, with the reason, when its last convolutional feature
map is smaller than 4x4 (trainer_module/gradcam.py).
"""

import os
from typing import List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from components import scoring
from reporting import escape
from trainer_module import gradcam

MIN_SIDE = 256  # each panel is scaled up (nearest) to at least this many pixels
GAP = 4  # pixels between the panels
FONT_SIZE = 16


def true_class(path: str, class_names: Sequence[str]) -> Optional[str]:
  """The class an image is known to be: its folder's name when that is a class name (a
  class-folder tree, as the pipeline ingests), else None."""
  folder = os.path.basename(os.path.dirname(os.path.abspath(path)))
  return folder if folder in class_names else None


def caption(predicted: str, probability: float, true: Optional[str] = None) -> str:
  """'predicted 7 (0.93), true 7' ('true ...' only when known), on one line."""
  text = f"predicted {escape.one_line(predicted)} ({probability:.2f})"
  return text + (f", true {escape.one_line(true)}" if true is not None else "")


def compose(pixels: np.ndarray, heatmap: np.ndarray, text: str) -> np.ndarray:
  """uint8 RGB: the image and its Grad-CAM overlay side by side, scaled up, `text` below."""
  image = np.repeat(pixels, 3, axis=-1) if pixels.shape[-1] == 1 else pixels
  scale = max(1, -(-MIN_SIDE // max(image.shape[:2])))

  def scaled(panel: np.ndarray) -> np.ndarray:
    return np.repeat(np.repeat(panel, scale, axis=0), scale, axis=1)

  left, right = scaled(image.astype(np.uint8)), scaled(gradcam.overlay(pixels, heatmap))
  height, width = left.shape[:2]
  font = ImageFont.load_default(size=FONT_SIZE)
  canvas = Image.new("RGB", (2 * width + GAP, height + FONT_SIZE + 12), "white")
  canvas.paste(Image.fromarray(left), (0, 0))
  canvas.paste(Image.fromarray(right), (width + GAP, 0))
  ImageDraw.Draw(canvas).text((4, height + 4), text, fill="black", font=font)
  return np.asarray(canvas)


def write(
  keras_dir: str,
  paths: List[str],
  images: List[bytes],
  class_ids: List[int],
  probabilities: List[float],
  class_names: List[str],
  out_dir: str,
) -> Tuple[List[str], Optional[str]]:
  """(the PNGs written, one per image, or [] and why Grad-CAM was skipped)."""
  spec, model, _ = scoring.load_keras(keras_dir)
  cam = gradcam.GradCam(model)
  if cam.skip_reason():
    return [], cam.skip_reason()
  os.makedirs(out_dir, exist_ok=True)
  written, taken = [], set()
  for start in range(0, len(images), scoring.BATCH):
    end = start + scoring.BATCH
    pixels = scoring.decode(images[start:end], spec)
    heatmaps, _ = cam(pixels, class_ids[start:end])
    for i, image, heatmap in zip(range(start, end), pixels, heatmaps):
      text = caption(class_names[class_ids[i]], probabilities[i], true_class(paths[i], class_names))
      stem = os.path.splitext(os.path.basename(paths[i]))[0]
      name, n = f"{stem}_gradcam.png", 1
      while name in taken:
        n += 1
        name = f"{stem}_{n}_gradcam.png"
      taken.add(name)
      target = os.path.join(out_dir, name)
      Image.fromarray(compose(image, heatmap, text)).save(target, format="PNG")
      written.append(target)
  return written, None
