"""The text of a scheduled run's facts, for the console summary and the model card: the span
ingested and the spans trained on, drift against the previous run's data, where training
started, and a pushed model that is worse than the one it replaced."""

from typing import Any, Dict, List


def span_line(summary: Dict[str, Any]) -> str:
  """'  span: 3 ingested; trained on spans 3, 2'."""
  spans = summary.get("spans") or [summary["span"]]
  return f"  span: {summary['span']} ingested; trained on span{'s' if len(spans) > 1 else ''} " + (
    ", ".join(map(str, spans))
  )


def drift_summary_lines(drift_report: Dict[str, Any]) -> List[str]:
  """A line per drifted feature, or one line saying what was compared."""
  if not drift_report:
    return []
  baseline = drift_report.get("baseline")
  if not baseline:
    return ["  drift: no earlier data to compare with"]
  against = "the previous run's data" + (
    f" (span {baseline['span']})" if baseline.get("span") is not None else ""
  )
  if not drift_report["lines"]:
    return [f"  drift: none against {against}"]
  action = "blocked the run" if drift_report.get("on_drift") == "block" else "warning"
  return [f"  drift against {against} ({action}): {line}" for line in drift_report["lines"]]


def warm_start_text(warm_start: Dict[str, Any]) -> str:
  if warm_start.get("from"):
    return (
      f"warm start: from {warm_start['from']}, {warm_start['epochs']} epochs at "
      f"{warm_start.get('learning_rate_factor', 1.0):g}x the learning rate"
    )
  return f"trained from scratch: {warm_start.get('reason')}"


def regression_line(summary: Dict[str, Any]) -> str:
  """The console line for a pushed model that is worse than the one it replaced."""
  baseline, metrics = summary["metrics"]["baseline"], summary["metrics"]
  return (
    f"  regression: the pushed model is {-summary['pushed_regression']:.4f} less accurate than "
    f"the last blessed model on the same {metrics.get('split', 'eval')} images "
    f"({metrics['accuracy']:.4f} vs {baseline['accuracy']:.4f}; --change-threshold "
    f"{summary['thresholds']['change']:+} allows it)"
  )
