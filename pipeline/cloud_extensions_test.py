"""TFX's Google Cloud extensions are not imported with tfx.v1 once deferred, and load, whole, on
first use (in a fresh interpreter: the test process has imported TFX already)."""

import subprocess
import sys
import textwrap

import pytest

from tools.runner import ROOT

pytestmark = pytest.mark.integration  # a subprocess


def test_deferred_extensions_load_on_first_use_only():
  script = textwrap.dedent(
    """
    import sys
    from pipeline import cloud_extensions
    cloud_extensions.defer()
    from tfx import v1 as tfx
    print("after tfx.v1:", "google.cloud.aiplatform" in sys.modules)
    assert tfx.extensions.google_cloud_ai_platform.Trainer.__name__ == "Trainer"
    print("after use:", "google.cloud.aiplatform" in sys.modules)
    from tfx.v1.extensions.google_cloud_big_query import BigQueryExampleGen
    assert sys.modules["tfx.v1.extensions"] is tfx.extensions
    print("submodule:", BigQueryExampleGen.__name__)
    """
  )
  done = subprocess.run(
    [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300
  )
  assert done.returncode == 0, done.stderr[-2000:]
  assert done.stdout.splitlines() == [
    "after tfx.v1: False",
    "after use: True",
    "submodule: BigQueryExampleGen",
  ]
