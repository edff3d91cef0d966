"""What every benchmark writes: median (min–max) figures and its own section of BENCHMARKS.md."""

import os
import platform
import statistics

import psutil


def spread(values, digits: int = 0) -> str:
  """The median with the range, e.g. "686 (650–700)"."""
  return (
    f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"
  )


def write_section(path: str, title: str, section: str) -> None:
  """Replaces the section starting at `title` (up to the next "## ") or appends it."""
  text = open(path).read() if os.path.exists(path) else "# Benchmarks\n\n"
  if title in text:
    start = text.index(title)
    end = text.find("\n## ", start + 1)
    text = text[:start] + section + (text[end + 1 :] if end != -1 else "")
  else:
    text = text.rstrip("\n") + "\n\n" + section
  with open(path, "w") as f:
    f.write(text)
  print(section)


def machine() -> str:
  """The machine in one phrase: CPU model, cores, memory, Python."""

  model = platform.machine()
  if os.path.exists("/proc/cpuinfo"):
    with open("/proc/cpuinfo") as f:
      model = next(
        (line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model
      )
  return (
    f"{model}, {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
    f"Python {platform.python_version()}"
  )
