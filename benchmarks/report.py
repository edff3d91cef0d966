"""What every benchmark writes: median (min–max) figures and its own section of BENCHMARKS.md."""

import os
import statistics


def spread(values, digits: int = 0) -> str:
  """The median with the range, e.g. "686 (650–700)"."""
  return (f"{statistics.median(values):.{digits}f} "
          f"({min(values):.{digits}f}–{max(values):.{digits}f})")


def write_section(path: str, title: str, section: str) -> None:
  """Replaces the section starting at `title` (up to the next "## ") or appends it."""
  text = open(path).read() if os.path.exists(path) else "# Benchmarks\n\n"
  if title in text:
    start = text.index(title)
    end = text.find("\n## ", start + 1)
    text = text[:start] + section + (text[end + 1:] if end != -1 else "")
  else:
    text = text.rstrip("\n") + "\n\n" + section
  with open(path, "w") as f:
    f.write(text)
  print(section)
