"""How a run ended: its status in run_summary.json and the exit status of the runners.

pushed       0  blessed and pushed
not_blessed  3  ran, but a gate failed or DriftCheck blocked it: nothing pushed
input_error  2  bad input or usage, found before or during the run
failed       1  anything else (a stage crashed, the metadata store is unreadable, ...)
interrupted  130 / 143  SIGINT / SIGTERM
"""

import dataclasses
import signal
from typing import Optional

from components.image_example_gen.errors import InputError

PUSHED, NOT_BLESSED, INPUT_ERROR, FAILED, INTERRUPTED = (
  "pushed",
  "not_blessed",
  "input_error",
  "failed",
  "interrupted",
)
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NOT_BLESSED = 0, 1, 2, 3
EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}


@dataclasses.dataclass
class Outcome:
  """How the run's process saw it end, before the record is read: `completed` when every
  stage ran (the record then says pushed or not blessed), else the status, the stage that was
  running and the error's first line."""

  status: Optional[str] = None  # None: completed; the record decides
  error: Optional[str] = None
  stage: Optional[str] = None
  signum: Optional[int] = None
  drift_report: Optional[dict] = None  # DriftCheck stopped the run (--on-drift block)
  input_report: Optional[dict] = None  # the ingest report an InputError carried

  @property
  def completed(self) -> bool:
    return self.status is None and self.drift_report is None


def first_line(error: BaseException) -> str:
  text = str(error).strip()
  return f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__


def behind(exc: Optional[BaseException], kinds: tuple):
  """The first exception of `kinds` in exc's chain (itself, its cause or context), or None."""
  seen = set()
  while exc is not None and id(exc) not in seen:
    if isinstance(exc, kinds):
      return exc
    seen.add(id(exc))
    exc = exc.__cause__ or exc.__context__
  return None


def from_exception(
  exc: BaseException, stage: Optional[str] = None, input_kinds: tuple = (InputError,)
) -> Outcome:
  """The outcome of a run that raised `exc` while `stage` ran: DriftCheck's block (the record
  then says not blessed), bad input (an InputError, e.g. ImageExampleGen's, anywhere in the
  chain), or a failure."""
  # Here, not at the top: a runner imports this module before TensorFlow is quiet.
  from components.drift_check.executor import DriftBlocked  # pylint: disable=import-outside-toplevel

  blocked = behind(exc, (DriftBlocked,))
  if blocked is not None:
    return Outcome(drift_report=blocked.report, stage=stage)
  bad_input = behind(exc, input_kinds)
  if bad_input is not None:
    return Outcome(
      INPUT_ERROR,
      error=str(bad_input).strip() or type(bad_input).__name__,
      stage=stage,
      input_report=getattr(bad_input, "report", None),
    )
  return Outcome(FAILED, error=first_line(exc), stage=stage)


def interrupted(signum: int, stage: Optional[str] = None) -> Outcome:
  return Outcome(
    INTERRUPTED, error=f"interrupted by {signal.Signals(signum).name}", stage=stage, signum=signum
  )


def exit_status(status: str, signum: Optional[int] = None) -> int:
  """The runners' exit status for a run's status."""
  if status == INTERRUPTED:
    return EXIT_SIGNAL.get(signum, EXIT_SIGNAL[signal.SIGINT])
  return {PUSHED: EXIT_OK, NOT_BLESSED: EXIT_NOT_BLESSED, INPUT_ERROR: EXIT_USAGE}.get(
    status, EXIT_ERROR
  )
