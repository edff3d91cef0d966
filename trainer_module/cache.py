"""Where the Trainer caches the parsed examples it reads every epoch: memory or disk.

`auto` keeps them in memory only when both splits fit a budget (a fraction of physical
memory), else on disk under the run's artifact; `memory`, `disk` and `none` force a choice.
"""

import os
from typing import Dict, List, Sequence, Tuple

import numpy as np
import tensorflow as tf

MODES = ("auto", "memory", "disk", "none")
MEMORY_FRACTION = 0.25  # of physical memory, for both splits' cached examples together
EXAMPLE_OVERHEAD = 96  # bytes per cached example beside its pixels: header, label, tf.data


def physical_memory() -> int:
  return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def files_bytes(patterns: Sequence[str]) -> int:
  return sum(tf.io.gfile.stat(path).length for pattern in patterns
             for path in tf.io.gfile.glob(pattern))


def estimate_images(train_images: int, train_files: Sequence[str],
                    eval_files: Sequence[str]) -> int:
  """Eval images, estimated from the train count and the two splits' sizes on disk."""
  train_bytes = files_bytes(train_files)
  return round(train_images * files_bytes(eval_files) / train_bytes) if train_bytes else 0


def _mb(size: float) -> str:
  return f"{size / 2**20:,.0f} MB" if size < 2**30 else f"{size / 2**30:,.1f} GB"


def choose(mode: str, images: Dict[str, int], shape: List[int], disk_dir: str,
           budget: int = 0) -> Tuple[Dict[str, str], str]:
  """(split -> what input_fn's `cache` takes: "memory", "none" or a path prefix, a line that
  says what was chosen and why)."""
  if mode not in MODES:
    raise ValueError(f"cache must be one of {', '.join(MODES)}, got {mode!r}")
  budget = budget or int(MEMORY_FRACTION * physical_memory())
  size = sum(images.values()) * (int(np.prod(shape)) + EXAMPLE_OVERHEAD)
  counts = ", ".join(f"{split} {n:,}" for split, n in images.items())
  why = f"{counts} images of {'x'.join(map(str, shape))} uint8 pixels ≈ {_mb(size)}"
  if mode == "auto":
    mode = "memory" if size <= budget else "disk"
    why += (f" {'within' if mode == 'memory' else 'over'} the memory budget of {_mb(budget)} "
            f"({MEMORY_FRACTION:.0%} of {_mb(physical_memory())})")
  where = {"memory": "memory", "none": "none"}.get(mode)
  caches = {split: where or os.path.join(disk_dir, split) for split in images}
  place = {"memory": "in memory", "none": "not cached",
           "disk": f"on disk under {disk_dir}"}[mode]
  return caches, f"Trainer cache: {place} ({why})"
