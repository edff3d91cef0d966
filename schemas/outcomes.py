"""How a run ends: its status (run_summary.json's `status`) and the runners' exit codes, and each
stage's state in the run record.

status       exit
pushed       0    blessed, and a new version pushed
unchanged    0    the candidate is the model already served (nothing new trained): not pushed again
not_blessed  3    ran, but a gate failed or DriftCheck blocked the span: nothing pushed
input_error  2    bad input or usage, found before or during the run
failed       1    anything else (a stage crashed, the metadata store is unreadable, ...)
interrupted  130 / 143  SIGINT / SIGTERM
"""

import enum
import signal
from typing import Optional


class Status(str, enum.Enum):
  """A run's status; a str, so JSON and comparisons with plain strings see its value."""

  PUSHED = "pushed"
  UNCHANGED = "unchanged"
  NOT_BLESSED = "not_blessed"
  INPUT_ERROR = "input_error"
  FAILED = "failed"
  INTERRUPTED = "interrupted"

  def __str__(self) -> str:
    return self.value


class ExitCode(enum.IntEnum):
  OK = 0
  ERROR = 1
  USAGE = 2
  NOT_BLESSED = 3
  SIGINT = 130
  SIGTERM = 143


SIGNAL_EXIT = {signal.SIGINT: ExitCode.SIGINT, signal.SIGTERM: ExitCode.SIGTERM}
_STATUS_EXIT = {
  Status.PUSHED: ExitCode.OK,
  Status.UNCHANGED: ExitCode.OK,
  Status.NOT_BLESSED: ExitCode.NOT_BLESSED,
  Status.INPUT_ERROR: ExitCode.USAGE,
  Status.FAILED: ExitCode.ERROR,
}


def exit_code(status: str, signum: Optional[int] = None) -> ExitCode:
  """The runners' exit code for a run's status (an interrupt's by its signal, SIGINT's when
  unknown)."""
  if Status(status) is Status.INTERRUPTED:
    return SIGNAL_EXIT.get(signum, ExitCode.SIGINT)
  return _STATUS_EXIT[Status(status)]


class StageState(str, enum.Enum):
  """What a stage did in this run."""

  RAN = "ran"  # executed in this run
  CACHED = "cached"  # TFX reused an earlier run's outputs
  SKIPPED = "skipped"  # not run, with a reason (e.g. nothing new to evaluate)
  BLOCKED = "blocked"  # stopped the run on purpose (DriftCheck, --on-drift block)
  FAILED = "failed"
  INTERRUPTED = "interrupted"
  NOT_REACHED = "not_reached"  # the run ended before it

  def __str__(self) -> str:
    return self.value
