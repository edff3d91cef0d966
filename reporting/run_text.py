"""What this run did, as lines for people: the console summary and the model card both take them
from here, so the two never tell different stories. Each reads the run record only: the span
ingested and trained on (or the span drift blocked), drift, the Trainer (ran or cached, from
scratch or warm-started), the served model the candidate was compared with, what happened to
the serving dir, and a pushed model that is worse than the one it replaced."""

from typing import Any, Dict, List, Optional

from reporting import escape
from schemas import nodes
from schemas.outcomes import StageState
from schemas.run_record import ModelRef, RunRecord


def _run_of(model: Optional[ModelRef]) -> str:
  if model is None:
    return ""
  parts = [f"version {model.version}" if model.version else "", f"run {model.run_id}"]
  return ", ".join(p for p in parts if p and not p.endswith("None"))


def span_line(record: RunRecord) -> Optional[str]:
  """'span: 3 ingested; trained on spans 3, 2', or 'span: 4 ingested; not trained: drift
  blocked span 4'; None for data without spans (TFX's span 0 and no window)."""
  if record.span is None or (record.span == 0 and len(record.spans) <= 1):
    return None
  if record.state(nodes.DRIFT_CHECK) is StageState.BLOCKED:
    return f"span: {record.span} ingested; not trained: drift blocked span {record.span}"
  trainer = record.state(nodes.TRAINER)
  if trainer not in (StageState.RAN, StageState.CACHED):
    return f"span: {record.span} ingested; not trained"
  spans = record.spans or [record.span]
  return f"span: {record.span} ingested; trained on span{'s' if len(spans) > 1 else ''} " + (
    ", ".join(map(str, spans))
  )


def drift_lines(drift_report: Dict[str, Any]) -> List[str]:
  """A line per drifted feature, or one line saying what was compared."""
  if not drift_report:
    return []
  baseline = drift_report.get("baseline")
  if not baseline:
    return ["drift: no earlier data to compare with"]
  against = "the previous run's data" + (
    f" (span {baseline['span']})" if baseline.get("span") is not None else ""
  )
  if not drift_report["lines"]:
    return [f"drift: none against {against}"]
  action = "blocked the run" if drift_report.get("on_drift") == "block" else "warning"
  return [f"drift against {against} ({action}): {line}" for line in drift_report["lines"]]


def warm_start_text(warm_start: Dict[str, Any], model: Optional[ModelRef] = None) -> str:
  if warm_start.get("from"):
    return (
      f"warm start: from the last blessed model ({_run_of(model) or warm_start['from']}), "
      f"{warm_start['epochs']} epochs at "
      f"{warm_start.get('learning_rate_factor', 1.0):g}x the learning rate"
    )
  return f"trained from scratch: {warm_start.get('reason')}"


def training_lines(record: RunRecord) -> List[str]:
  """'training: 10 epochs, 23.1 s, 1200 images/s' (per member for an ensemble) and where it
  started; 'training: cached from run <id>' for a Trainer TFX took from an earlier run."""
  training, trainer = record.training, record.stage(nodes.TRAINER)
  if not training or trainer is None:
    return []
  if trainer.state is StageState.CACHED:
    return [f"training: cached from run {trainer.from_run or 'an earlier run'} (not run again)"]
  members = training.get("member_epochs")
  epochs = (
    f"{len(members)} members x {members[0]} epochs"
    if members and len(set(members)) == 1
    else f"members {', '.join(map(str, members))} epochs"
    if members
    else f"{training['epochs']} epochs"
  )
  lines = [
    f"training: {epochs}, {training['train_seconds']} s, "
    f"{training['images_per_second']:.0f} images/s"
  ]
  if training.get("warm_start"):
    lines.append(warm_start_text(training["warm_start"], record.models.warm_start))
  return lines


def baseline_line(record: RunRecord) -> Optional[str]:
  """The served model the candidate was compared with, or why it was not."""
  metrics, models = record.metrics, record.models
  if metrics.get("accuracy") is None:
    return None
  baseline, skipped = metrics.get("baseline"), metrics.get("baseline_skipped")
  which = _run_of(models.baseline)
  evaluator = record.stage(nodes.EVALUATOR)
  if models.candidate_is_served and evaluator and evaluator.state is StageState.CACHED:
    return (
      f"evaluation: cached from run {evaluator.from_run} (the candidate is the served model, "
      "not compared with itself)"
    )
  if baseline:
    return (
      f"baseline (the served model{', ' + which if which else ''}) accuracy: "
      f"{baseline['accuracy']:.4f}, change {baseline['accuracy_change']:+.4f} "
      f"(allowed {record.thresholds['change']:+})"
    )
  if skipped:
    return (
      f"baseline comparison skipped: the served model's classes differ "
      f"({escape.one_line(skipped['reason'])})"
    )
  return f"baseline: none ({models.baseline_reason or 'no model served yet'}): thresholds only"


def serving_line(record: RunRecord) -> str:
  """What the run did to the serving dir."""
  serving = record.serving
  if record.models.candidate_is_served:
    trainer = record.stage(nodes.TRAINER)
    since = trainer.from_run if trainer and trainer.from_run else None
    return (
      f"no new data since run {since}; " if since else "nothing new trained; "
    ) + f"serving version {serving.version} unchanged"
  if record.pushed_model_path:
    return f"pushed: version {record.pushed_version} ({record.pushed_model_path})" + (
      f", replacing version {serving.version_before}" if serving.version_before else ""
    )
  return f"pushed: nothing; serving version {serving.version_before or 'none'} unchanged"


def regression_line(record: RunRecord) -> str:
  """The line for a pushed model that is worse than the one it replaced."""
  baseline, metrics = record.metrics["baseline"], record.metrics
  return (
    f"regression: the pushed model is {-record.pushed_regression:.4f} less accurate than "
    f"the served model on the same {metrics.get('split', 'eval')} images "
    f"({metrics['accuracy']:.4f} vs {baseline['accuracy']:.4f}; --change-threshold "
    f"{record.thresholds['change']:+} allows it)"
  )
