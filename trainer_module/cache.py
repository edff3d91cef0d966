"""Where the Trainer caches the parsed examples it reads every epoch: memory or disk.

`auto` keeps them in memory only when both splits fit a budget (a fraction of physical
memory), else on disk under the run's artifact; `memory`, `disk` and `none` force a choice.
"""

import os
from typing import Dict, List, Tuple

import numpy as np

from schemas.nodes import TRAINER
from schemas.settings import CACHE_MODES

MEMORY_FRACTION = 0.25  # of physical memory, for both splits' cached examples together
EXAMPLE_OVERHEAD = 96  # bytes per cached example beside its pixels: header, label, tf.data


def physical_memory() -> int:
  return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _mb(size: float) -> str:
  return f"{size / 2**20:,.0f} MB" if size < 2**30 else f"{size / 2**30:,.1f} GB"


def choose(
  mode: str,
  images: Dict[str, int],
  shape: List[int],
  disk_dir: str,
  budget: int = 0,
  stage: str = TRAINER,
) -> Tuple[Dict[str, str], str]:
  """(split -> what input_fn's `cache` takes: "memory", "none" or a path prefix, a line that
  says what was chosen and why, labelled with the `stage` that trains)."""
  if mode not in CACHE_MODES:
    raise ValueError(f"cache must be one of {', '.join(CACHE_MODES)}, got {mode!r}")
  budget = budget or int(MEMORY_FRACTION * physical_memory())
  size = sum(images.values()) * (int(np.prod(shape)) + EXAMPLE_OVERHEAD)
  counts = ", ".join(f"{split} {n:,}" for split, n in images.items())
  why = f"{counts} images of {'x'.join(map(str, shape))} uint8 pixels ≈ {_mb(size)}"
  if mode == "auto":
    mode = "memory" if size <= budget else "disk"
    why += (
      f" {'within' if mode == 'memory' else 'over'} the memory budget of {_mb(budget)} "
      f"({MEMORY_FRACTION:.0%} of {_mb(physical_memory())})"
    )
  where = {"memory": "memory", "none": "none"}.get(mode)
  caches = {split: where or os.path.join(disk_dir, split) for split in images}
  place = {"memory": "in memory", "none": "not cached", "disk": f"on disk under {disk_dir}"}[mode]
  return caches, f"[{stage}] cache: {place} ({why})"
