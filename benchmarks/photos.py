"""Real photographs for the 224-pixel benchmarks: random crops of scikit-image's sample photos.

  python -m benchmarks.photos DEST [--per-class 1000]   # DEST/<photo>/<index>.jpg

Each class is one photograph (scikit-image's astronaut, coffee, chelsea, rocket and
immunohistochemistry, bundled with the package, no download); each image a random crop of it
(40-90 % of its shorter side, aspect ratio 3:4 to 4:3, mirrored half the time) saved as a
JPEG (quality 90) about 224-336 pixels on its longer side, as a phone photo scaled for training
would be. Needs the `bench` extra (scikit-image).
"""

import argparse
import os

import numpy as np
from PIL import Image

CLASSES = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry")


def _photo(name: str) -> np.ndarray:
  from skimage import data  # noqa: PLC0415  (an image dataset: only when exported)

  return getattr(data, name)()[..., :3]


def crops(photo: np.ndarray, count: int, seed: int):
  """`count` random crops of the photo as PIL images."""
  rng = np.random.default_rng(seed)
  height, width = photo.shape[:2]
  for _ in range(count):
    side = rng.uniform(0.4, 0.9) * min(height, width)
    aspect = rng.uniform(3 / 4, 4 / 3)
    h, w = int(min(height, side / np.sqrt(aspect))), int(min(width, side * np.sqrt(aspect)))
    top, left = rng.integers(0, height - h + 1), rng.integers(0, width - w + 1)
    image = Image.fromarray(photo[top : top + h, left : left + w])
    if rng.random() < 0.5:
      image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    longer = int(rng.integers(224, 337))
    scale = longer / max(h, w)
    yield image.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BILINEAR)


def export(dest: str, per_class: int) -> str:
  """Writes per_class crops of each photo; a complete export (marked beside it) is reused."""
  done = f"{dest.rstrip('/')}.{per_class}.complete"
  if os.path.exists(done):
    return dest
  for seed, name in enumerate(CLASSES):
    folder = os.path.join(dest, name)
    os.makedirs(folder, exist_ok=True)
    for i, image in enumerate(crops(_photo(name), per_class, seed)):
      image.save(os.path.join(folder, f"{i:05d}.jpg"), quality=90)
  with open(done, "w") as f:
    f.write(f"{per_class * len(CLASSES)}\n")
  return dest


if __name__ == "__main__":
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("dest")
  parser.add_argument("--per-class", type=int, default=1000)
  args = parser.parse_args()
  print(export(args.dest, args.per_class))
