"""Warm start against training from scratch on the third of three scheduled spans.

  python -m benchmarks.warm_start_benchmark [--epochs 5] [--repeats 2] [--work DIR]

Debian's Fashion-MNIST, pre-split (benchmarks/fashion_mnist.py), becomes three spans
`day-1`..`day-3`: a third of the train and eval images each (every third image), and the
official 10,000 test images in every span, which the Evaluator gates on. local_runner.py runs
span 1 then span 2 in one output dir (a daily schedule). Then, per repeat, two copies of that
output dir run span 3: one warm-started from the span-2 model (the default, --warm-start auto:
a third of --epochs at a tenth of the rate), one with --warm-start never (--epochs from
scratch). Reported: the Trainer's seconds, the test accuracy and the pipeline's wall time of
both, median (min–max) over repeats. Results go to BENCHMARKS.md.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

from benchmarks import fashion_mnist, measure
from benchmarks.report import machine, spread, write_section
from schemas import nodes
from tools.runner import local_runner_command

SECTION = "## Warm start on scheduled spans"
FLAGS = ("--image-size", "28", "--channels", "1", "--batch-size", "64")


def make_spans(source: str, root: str, spans: int = 3) -> str:
  """root/day-<n>/<split>/<class>/ as hard links into the pre-split export; returns the
  `{SPAN}` path."""
  done = root.rstrip("/") + ".complete"
  if not os.path.exists(done):
    shutil.rmtree(root, ignore_errors=True)
    for split in ("train", "eval", "test"):
      for label in sorted(os.listdir(os.path.join(source, split))):
        names = sorted(os.listdir(os.path.join(source, split, label)))
        for span in range(1, spans + 1):
          folder = os.path.join(root, f"day-{span}", split, label)
          os.makedirs(folder)
          chosen = names if split == "test" else names[span - 1 :: spans]
          for name in chosen:
            os.link(os.path.join(source, split, label, name), os.path.join(folder, name))
    with open(done, "w") as f:
      f.write("done\n")
  return os.path.join(root, "day-{SPAN}")


def _visible(root: str, span: int) -> None:
  """Only spans up to `span` exist, as on that day of the schedule."""
  for name in os.listdir(root):
    if name.startswith("day-") or name.startswith(".day-"):
      number = int(name.split("-")[1])
      want = f"day-{number}" if number <= span else f".day-{number}"
      if name != want:
        os.rename(os.path.join(root, name), os.path.join(root, want))


def run(path: str, out: str, epochs: int, *flags: str) -> dict:
  summary, wall, _ = measure.pipeline(
    local_runner_command(path, out, "fashion-spans", "--epochs", str(epochs), *FLAGS, *flags), out
  )
  return {
    "wall": wall,
    "trainer": summary["stage_seconds"][nodes.TRAINER],
    "accuracy": summary["metrics"]["accuracy"],
    "epochs": summary["training"]["epochs"],
    "warm_start": summary["training"]["warm_start"],
    "pushed": bool(summary["pushed_model_path"]),
  }


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--epochs", type=int, default=5)
  parser.add_argument("--repeats", type=int, default=2)
  parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "warm-bench"))
  args = parser.parse_args()
  source = fashion_mnist.export(os.path.join(args.work, "fashion-mnist-splits"), splits=True)
  spans_root = os.path.join(args.work, "spans")
  path = make_spans(source, spans_root)
  chain = os.path.join(args.work, "chain")
  shutil.rmtree(chain, ignore_errors=True)
  history = []
  for span in (1, 2):
    _visible(spans_root, span)
    history.append(run(path, chain, args.epochs))
    print(json.dumps(history[-1]), flush=True)
  _visible(spans_root, 3)
  results = []
  for repeat in range(args.repeats):
    result = {}
    for mode in ("auto", "never"):
      out = os.path.join(args.work, f"span3-{mode}-{repeat}")
      shutil.rmtree(out, ignore_errors=True)
      shutil.copytree(chain, out)
      result[mode] = run(path, out, args.epochs, "--warm-start", mode)
    results.append(result)
    print(json.dumps(result), flush=True)
  _write(
    history,
    results,
    args.epochs,
    " ".join(["python -m benchmarks.warm_start_benchmark"] + sys.argv[1:]),
  )


def _count(number: int, noun: str) -> str:
  return f"{number} {noun}" + ("" if number == 1 else "s")


def _write(history, results, epochs: int, command: str) -> None:
  warm = [r["auto"] for r in results]
  cold = [r["never"] for r in results]
  assert all(w["warm_start"]["from"] for w in warm), warm
  ratio = [w["trainer"] / c["trainer"] for w, c in zip(warm, cold)]
  lines = [
    SECTION,
    "",
    f"Command: `{command}` ({time.strftime('%Y-%m-%d')}; {machine()}; "
    f"{_count(len(results), 'repeat')} of span 3 from copies of one output dir after spans 1 "
    "and 2).",
    "Fashion-MNIST in three spans (each a third of the 55,000 train and 5,000 eval PNGs; the "
    "official 10,000 test PNGs in every span, which the Evaluator gates on); default CNN, "
    f"28×28×1, batch 64, --epochs {epochs}. Spans 1 and 2 ran once: test accuracy "
    f"{history[0]['accuracy']:.4f} (cold), then {history[1]['accuracy']:.4f} (warm-started, "
    f"{_count(history[1]['epochs'], 'epoch')})."
    + (" Median (min–max) over repeats." if len(results) > 1 else ""),
    "",
    "| span 3 | warm start (default) | from scratch (--warm-start never) |",
    "|---|---:|---:|",
    f"| epochs | {warm[0]['epochs']} | {cold[0]['epochs']} |",
    f"| Trainer seconds | {spread([w['trainer'] for w in warm], 1)} | "
    f"{spread([c['trainer'] for c in cold], 1)} |",
    f"| test accuracy | {spread([w['accuracy'] for w in warm], 4)} | "
    f"{spread([c['accuracy'] for c in cold], 4)} |",
    f"| pipeline wall seconds | {spread([w['wall'] for w in warm])} | "
    f"{spread([c['wall'] for c in cold])} |",
    f"| pushed (not worse than the span-2 model) | {sum(w['pushed'] for w in warm)} of "
    f"{len(warm)} | {sum(c['pushed'] for c in cold)} of {len(cold)} |",
    "",
    f"Trainer seconds, warm ÷ cold, per repeat: {spread(ratio, 2)}.",
    "",
  ]
  write_section("BENCHMARKS.md", SECTION, "\n".join(lines))


if __name__ == "__main__":
  main()
