"""Command-line tools print their own lines: TensorFlow's native start-up lines (CUDA probes,
cuInit errors, oneDNN notices, "All log messages before absl::InitializeLog() ...", TensorFlow
Lite's delegate notice) stay off stderr unless --verbose.

TF_CPP_MIN_LOG_LEVEL quiets TensorFlow's C++ logging once it runs, but the libraries it loads
log through absl before that, whatever it says: so while `import tensorflow` runs, file
descriptor 2 goes to a temporary file, and what comes back to stderr is every line there that is
not a native log line (a Python warning, an import error's message).

Call before anything imports TensorFlow (once it is imported, its logging is set):
  quiet.import_tensorflow(verbose=args.verbose)
"""

import contextlib
import os
import re
import sys
import tempfile

# Only where unset: a user's own setting wins.
QUIET_ENV = {
  "TF_CPP_MIN_LOG_LEVEL": "3",  # TensorFlow's C++ logs: FATAL only (hides cuInit's error)
  "GRPC_VERBOSITY": "ERROR",  # gRPC's C core, loaded with TFX
}
NATIVE_LINE = re.compile(
  r"(?:[IWEF]\d{4} \d\d:\d\d:\d\d[.\d]*\s+\d+ \S+:\d+\] "  # absl / glog: I0000 00:00:17.5  42 x.cc:31]
  r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[.\d]*: [IWEF] \S+:\d+\] "  # TensorFlow's own: 2025-.. : I x.cc:1]
  r"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$"
  r"|INFO: )"  # TensorFlow Lite's: INFO: Created TensorFlow Lite XNNPACK delegate for CPU.
)


def is_native_line(line: str) -> bool:
  """Whether a stderr line is one of TensorFlow's (or absl's, gRPC's) native log lines."""
  return bool(NATIVE_LINE.match(line))


@contextlib.contextmanager
def native_lines_dropped():
  """File descriptor 2 to a temporary file for the block; then the lines written there that
  are not native log lines to stderr (also when the block raises)."""
  sys.stderr.flush()
  saved = os.dup(2)
  with tempfile.TemporaryFile() as captured:
    os.dup2(captured.fileno(), 2)
    try:
      yield
    finally:
      sys.stderr.flush()
      os.dup2(saved, 2)
      os.close(saved)
      captured.seek(0)
      lines = captured.read().decode(errors="replace").splitlines(keepends=True)
      kept = "".join(line for line in lines if not is_native_line(line))
      if kept:
        sys.stderr.write(kept)
        sys.stderr.flush()


def import_tensorflow(verbose: bool = False):
  """Imports TensorFlow; unless verbose, with QUIET_ENV and without its start-up lines. A no-op
  (but the import) when TensorFlow is already imported."""
  quiet = "tensorflow" not in sys.modules and not verbose
  if quiet:
    for name, value in QUIET_ENV.items():
      os.environ.setdefault(name, value)
  with native_lines_dropped() if quiet else contextlib.nullcontext():
    import tensorflow as tf  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)

  return tf
