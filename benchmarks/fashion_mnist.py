"""Debian's dataset-fashion-mnist (70,000 28x28 images, MIT) exported to PNG class folders.

python -m benchmarks.fashion_mnist DEST             # DEST/<class>/<train|test>_<index>.png
python -m benchmarks.fashion_mnist --splits DEST    # DEST/<train|eval|test>/<class>/...
python -m benchmarks.fashion_mnist --copies 10 DEST # DEST/<class>/<copy>/<name>.png (700,000)

export_subset(DEST, train, eval, test) writes the first official training images as train/ and
eval/ and the first official test images as test/ (the ensemble and recipe benchmarks).
"""

import argparse
import gzip
import json
import os
import struct
import subprocess
import sys
import zlib

import numpy as np
import tensorflow as tf

IDX_DIR = "/usr/share/datasets/fashion-mnist"
CLASSES = (
  "t-shirt",
  "trouser",
  "pullover",
  "dress",
  "coat",
  "sandal",
  "shirt",
  "sneaker",
  "bag",
  "ankle-boot",
)


def _idx(name: str) -> np.ndarray:
  with gzip.open(os.path.join(IDX_DIR, name)) as f:
    data = f.read()
  dims = data[3]
  shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
  return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def ensure_installed() -> None:
  """Installs the Debian package when missing (root only); otherwise names the command."""
  if os.path.isdir(IDX_DIR):
    return
  if os.geteuid() != 0:
    sys.exit(
      "benchmarks need Debian's dataset-fashion-mnist: sudo apt-get install dataset-fashion-mnist"
    )
  subprocess.run(["apt-get", "update", "-qq"], check=True)
  subprocess.run(["apt-get", "install", "-y", "-qq", "dataset-fashion-mnist"], check=True)


EVAL_EVERY = 12  # Every 12th training image (5,000) is the eval split of the pre-split export.


def arrays(part: str):
  """(uint8 [n, 28, 28] images, int labels) of "train" (60,000) or "test" (10,000)."""
  ensure_installed()
  prefix = "train" if part == "train" else "t10k"
  return _idx(f"{prefix}-images-idx3-ubyte.gz"), _idx(f"{prefix}-labels-idx1-ubyte.gz")


def export(dest: str, splits: bool = False) -> str:
  """Writes every image once; a complete export (dest.complete beside it) is reused.

  With `splits`, the official test set goes to test/, every EVAL_EVERY-th training image to
  eval/ and the rest to train/ (the pipeline's pre-split layout).
  """
  done = dest.rstrip("/") + ".complete"
  if os.path.exists(done):
    return dest
  for part in ("train", "test"):
    images, labels = arrays(part)
    for i, (pixels, label) in enumerate(zip(images, labels)):
      split = part if part == "test" or i % EVAL_EVERY else "eval"
      folder = (
        os.path.join(dest, split, CLASSES[label]) if splits else os.path.join(dest, CLASSES[label])
      )
      os.makedirs(folder, exist_ok=True)
      with open(os.path.join(folder, f"{part}_{i:05d}.png"), "wb") as f:
        f.write(tf.io.encode_png(pixels[:, :, None]).numpy())
  with open(done, "w") as f:
    f.write("70000\n")
  return dest


def export_subset(dest: str, train: int, evaluation: int, test: int) -> str:
  """dest/{train,eval,test}/<class>/<name>.png; a complete export (dest.complete) is reused."""
  done = dest.rstrip("/") + ".complete"
  if os.path.exists(done):
    return dest
  train_images, train_labels = arrays("train")
  test_images, test_labels = arrays("test")
  parts = {
    "train": (train_images[:train], train_labels[:train]),
    "eval": (train_images[train : train + evaluation], train_labels[train : train + evaluation]),
    "test": (test_images[:test], test_labels[:test]),
  }
  for split, (pixels, labels) in parts.items():
    for i, (image, label) in enumerate(zip(pixels, labels)):
      folder = os.path.join(dest, split, CLASSES[label])
      os.makedirs(folder, exist_ok=True)
      with open(os.path.join(folder, f"{split}_{i:05d}.png"), "wb") as f:
        f.write(tf.io.encode_png(image[:, :, None]).numpy())
  with open(done, "w") as f:
    f.write(json.dumps({"train": train, "eval": evaluation, "test": test}) + "\n")
  return dest


def _png_text(data: bytes, key: bytes, text: bytes) -> bytes:
  """The PNG with a tEXt chunk (key, text) before its IEND: other bytes, the same pixels."""
  body = b"tEXt" + key + b"\0" + text
  chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))
  return data[:-12] + chunk + data[-12:]  # IEND is the last 12 bytes


def export_copies(dest: str, copies: int, source: str = "") -> str:
  """Every image of the export `copies` times, as DEST/<class>/<copy>/<name>.png: each class
  holds 7,000 x copies files (700,000 in all for 10).

  Each copy differs from every other file by its bytes (a PNG tEXt chunk naming the copy, the
  pixels untouched), as a real collection of that size would: duplicate detection keeps them
  all. `source` is a plain export (made beside dest when not given); a complete export
  (dest.complete beside it) is reused.
  """
  done = dest.rstrip("/") + ".complete"
  if os.path.exists(done):
    return dest
  source = source or export(dest.rstrip("/") + "-source")
  for label in sorted(os.listdir(source)):
    names = sorted(os.listdir(os.path.join(source, label)))
    for copy in range(copies):
      os.makedirs(os.path.join(dest, label, str(copy)), exist_ok=True)
    for name in names:
      with open(os.path.join(source, label, name), "rb") as f:
        data = f.read()
      for copy in range(copies):
        with open(os.path.join(dest, label, str(copy), name), "wb") as f:
          f.write(_png_text(data, b"copy", str(copy).encode()))
  with open(done, "w") as f:
    f.write(f"{70000 * copies}\n")
  return dest


def repeat_on_splits(work: str, repeats: int, run) -> list:
  """Exports the pre-split folders under work, then calls run(data_dir, out_dir) once per
  repeat with a fresh out_dir (work/run<i>); returns the results, printing each."""
  data_dir = export(os.path.join(work, "fashion-mnist-splits"), splits=True)
  results = []
  for repeat in range(repeats):
    out_dir = os.path.join(work, f"run{repeat}")
    subprocess.run(["rm", "-rf", out_dir], check=True)
    results.append(run(data_dir, out_dir))
    print(json.dumps(results[-1]), flush=True)
  return results


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(
    prog="python -m benchmarks.fashion_mnist",
    description="Exports Debian's Fashion-MNIST as PNG class folders; prints the folder.",
  )
  parser.add_argument("dest", help="The folder to write (reused when complete).")
  parser.add_argument("--splits", action="store_true", help="Pre-split train/eval/test folders.")
  parser.add_argument("--copies", type=int, help="That many renamed copies of every image.")
  args = parser.parse_args(argv)
  if args.copies:
    print(export_copies(args.dest, args.copies))
  else:
    print(export(args.dest, splits=args.splits))


if __name__ == "__main__":
  main()
