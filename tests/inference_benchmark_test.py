"""benchmarks/inference_benchmark.py's section: the parts of BulkInferrer's time and the rest add
up to the executor's median, and multi_processing's extra is its time less the default's."""

import argparse
import os

import pytest

from benchmarks import inference_benchmark

pytestmark = pytest.mark.unit

STAGES = {"read": 0.5, "load": 0.5, "signature": 4.0, "model": 3.0, "logs": 1.5, "write": 0.5}


def _section(default, multi):
  return inference_benchmark._section(  # noqa: SLF001  (the section's figures, without a run)
    argparse.Namespace(images=20000, train=3000, repeats=len(default)),
    {
      "metrics": {"accuracy": 0.8},
      "stage_seconds": {"InferenceExampleGen": 18.0, "BulkInferrer": 20.0},
    },
    150.0,
    20000,
    ((1.0, 1.5, 2.0), (2.5, 3.0, 3.5)),
    default,
    multi,
    [1500.0] * len(default),
    [STAGES] * len(default),
  )


def _row(section, starts):
  (line,) = [x for x in section.splitlines() if x.startswith(f"| {starts}")]
  return [cell.strip() for cell in line.strip("|").split("|")]


def test_the_parts_and_the_rest_add_up_to_the_executors_time():
  # 20,000 images at 2,000/s: 10 s; the parts above sum to 7 s, so the rest is 3 s (30%).
  section = _section([2000.0, 2000.0, 2000.0], [1000.0, 1000.0, 1000.0])
  assert _row(section, "BulkInferrer executor, the pipeline's")[1:] == [
    "2000 (2000–2000)",
    "10.0 (10.0–10.0)",
  ]
  assert _row(section, "the rest")[1:] == ["3.00 (3.00–3.00)", "0.150", "30%"]
  assert _row(section, "&nbsp;&nbsp;the model alone")[1:] == ["3.00 (3.00–3.00)", "0.150", "30%"]
  assert _row(section, "&nbsp;&nbsp;parse_example")[1:] == ["1.00 (1.00–1.00)", "0.050", "10%"]
  # multi_processing at 1,000/s: 20 s, 10 s more than the default.
  assert _row(section, "extra with")[1:] == ["10.00 (10.00–10.00)", "0.500", "100%"]
  assert "scores 1.3× as many images a second as pipeline.predict, and 2.0× as many" in section
  assert "load average 1.00, 1.50, 2.00 at the command's start, 2.50, 3.00, 3.50" in section


def test_each_repeat_is_paired_with_its_own_stages():
  # The rest of each repeat is that repeat's executor time less its parts: 10 s and 5 s - 7 s.
  section = _section([2000.0, 4000.0], [1000.0, 2000.0])
  assert _row(section, "the rest")[1] == "0.50 (-2.00–3.00)"
  assert _row(section, "extra with")[1] == "7.50 (5.00–10.00)"
  assert f"({os.cpu_count()} worker processes)" in section
