"""How the run's process saw it end, before its record is read: completed, bad input, failed,
interrupted, or stopped by DriftCheck. The statuses and exit codes are schemas/outcomes.py's."""

import dataclasses
import signal
from typing import Optional

from components.image_example_gen.errors import InputError
from schemas.outcomes import Status


@dataclasses.dataclass
class Outcome:
  """`completed` when every stage ran (the record then says pushed, unchanged or not
  blessed), else the status, the stage that was running and the error's first line."""

  status: Optional[Status] = None  # None: completed; the record decides
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
  exc: BaseException, stage: Optional[str] = None, input_kinds: tuple = ()
) -> Outcome:
  """The outcome of a run that raised `exc` while `stage` ran: DriftCheck's block (the record
  then says not blessed), bad input (an InputError, e.g. ImageExampleGen's, or one of
  `input_kinds`, anywhere in the chain), or a failure."""
  # Here, not at the top: the runners import this module before TensorFlow is quiet.
  from components.drift_check.executor import DriftBlocked  # noqa: PLC0415  (TFX: a failed run's)

  blocked = behind(exc, (DriftBlocked,))
  if blocked is not None:
    return Outcome(drift_report=blocked.report, stage=stage)
  bad_input = behind(exc, (InputError, *input_kinds))
  if bad_input is not None:
    return Outcome(
      Status.INPUT_ERROR,
      error=str(bad_input).strip() or type(bad_input).__name__,
      stage=stage,
      input_report=getattr(bad_input, "report", None),
    )
  return Outcome(Status.FAILED, error=first_line(exc), stage=stage)


def interrupted(signum: int, stage: Optional[str] = None) -> Outcome:
  return Outcome(
    Status.INTERRUPTED,
    error=f"interrupted by {signal.Signals(signum).name}",
    stage=stage,
    signum=signum,
  )


def failed(error: str, stage: Optional[str] = None) -> Outcome:
  return Outcome(Status.FAILED, error=error, stage=stage)
