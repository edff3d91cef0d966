"""A scheduled run's facts as text (reporting/schedule_text.py), and the run summary's parts they come
from: a pushed model's regression (summary.regression) and a run DriftCheck stopped
(summary.add_drift_block). Drift reports are built as DriftCheck's executor writes drift.json."""

import pytest
from tensorflow_metadata.proto.v0 import anomalies_pb2

from components.drift_check import executor as drift_executor
from reporting import readers, summary
from reporting import schedule_text as schedule
from trainer_module import warm_start

LABEL = {
  "feature": "label",
  "measure": "L-infinity distance",
  "distance": 0.1712,
  "threshold": 0.1,
  "drifted": True,
}
BRIGHTNESS = {
  "feature": "brightness",
  "measure": "Jensen-Shannon divergence",
  "distance": 0.2345,
  "threshold": 0.15,
  "drifted": True,
}
WIDTH = {
  "feature": "width",
  "measure": "Jensen-Shannon divergence",
  "distance": 0.0123,
  "threshold": 0.1,
  "drifted": False,
}
HEIGHT_MISSING = {  # a configured feature one side lacks
  "feature": "height",
  "measure": "not comparable",
  "distance": None,
  "threshold": None,
  "drifted": True,
}


def _report(features, on_drift="warn", baseline_span=2, span=3):
  """drift.json as DriftCheck's executor writes it."""
  features = sorted(features, key=lambda f: f["feature"])
  return {
    "on_drift": on_drift,
    "span": span,
    "statistics": "/root/StatisticsGen/statistics/9",
    "baseline": (
      {"statistics": "/root/StatisticsGen/statistics/5", "span": baseline_span}
      if baseline_span != "none"
      else None
    ),
    "split": "train",
    "features": features,
    "drifted": [f["feature"] for f in features if f["drifted"]],
  }


def _metrics(change, accuracy=0.9512, split="test"):
  return {
    "accuracy": accuracy,
    "examples": 400,
    "split": split,
    "baseline": {"accuracy": round(accuracy - change, 4), "accuracy_change": change},
  }


# --- summary.regression and schedule.regression_line


def test_a_pushed_model_less_accurate_than_its_baseline_is_a_regression():
  metrics = _metrics(-0.0146)
  change = summary.regression(metrics, "/serving/1700000000")
  assert change == -0.0146
  line = schedule.regression_line(
    {"metrics": metrics, "pushed_regression": change, "thresholds": {"change": -0.02}}
  )
  assert line == (
    "  regression: the pushed model is 0.0146 less accurate than the last blessed model on the "
    "same test images (0.9512 vs 0.9658; --change-threshold -0.02 allows it)"
  )


def test_regression_line_names_the_eval_split_by_default():
  metrics = _metrics(-0.031, accuracy=0.9)
  del metrics["split"]
  line = schedule.regression_line(
    {
      "metrics": metrics,
      "pushed_regression": summary.regression(metrics, "/serving/1"),
      "thresholds": {"change": -0.05},
    }
  )
  assert "0.0310 less accurate" in line
  assert "on the same eval images" in line
  assert "(0.9000 vs 0.9310; --change-threshold -0.05 allows it)" in line


@pytest.mark.parametrize(
  "metrics, pushed",
  [
    (_metrics(-0.0146), None),  # not pushed
    (_metrics(-0.0146), ""),
    (_metrics(0.0), "/serving/1"),  # no worse
    (_metrics(0.012), "/serving/1"),  # better
    ({"accuracy": 0.95, "split": "test"}, "/serving/1"),  # no baseline: the first model
    ({"accuracy": 0.95, "baseline": None}, "/serving/1"),
    ({"accuracy": 0.95, "baseline": {"accuracy": 0.96}}, "/serving/1"),  # no change recorded
    ({}, "/serving/1"),  # no evaluation
  ],
)
def test_no_regression(metrics, pushed):
  assert summary.regression(metrics, pushed) is None


# --- schedule.span_line


def test_span_line_of_a_window_of_spans():
  assert schedule.span_line({"span": 3, "spans": [3, 2]}) == (
    "  span: 3 ingested; trained on spans 3, 2"
  )


@pytest.mark.parametrize("spans", [[3], [], None])
def test_span_line_of_one_span(spans):
  assert schedule.span_line({"span": 3, "spans": spans}) == "  span: 3 ingested; trained on span 3"


def test_span_line_without_spans_recorded():
  assert schedule.span_line({"span": 0}) == "  span: 0 ingested; trained on span 0"


# --- schedule.drift_summary_lines (of run_summary.json's `drift`: summary.drift_block)


def test_no_drift_report():
  assert schedule.drift_summary_lines({}) == []
  assert readers.drift_block({}) == {}


def test_no_baseline_to_compare_with():
  drift = readers.drift_block(_report([], baseline_span="none"))
  assert schedule.drift_summary_lines(drift) == ["  drift: no earlier data to compare with"]


def test_no_drifted_feature():
  drift = readers.drift_block(_report([WIDTH]))
  assert drift["lines"] == []
  assert schedule.drift_summary_lines(drift) == [
    "  drift: none against the previous run's data (span 2)"
  ]


def test_no_drifted_feature_against_data_without_a_span():
  drift = readers.drift_block(_report([WIDTH], baseline_span=None))
  assert schedule.drift_summary_lines(drift) == ["  drift: none against the previous run's data"]


def test_drifted_features_under_warn():
  drift = readers.drift_block(_report([LABEL, WIDTH, BRIGHTNESS, HEIGHT_MISSING]))
  assert schedule.drift_summary_lines(drift) == [
    "  drift against the previous run's data (span 2) (warning): "
    "brightness: Jensen-Shannon divergence 0.2345 > 0.15",
    "  drift against the previous run's data (span 2) (warning): "
    "height: could not be compared with the previous data",
    "  drift against the previous run's data (span 2) (warning): "
    "label: L-infinity distance 0.1712 > 0.1",
  ]


def test_drifted_features_under_block():
  drift = readers.drift_block(_report([LABEL, WIDTH], on_drift="block", baseline_span=0))
  assert schedule.drift_summary_lines(drift) == [
    "  drift against the previous run's data (span 0) (blocked the run): "
    "label: L-infinity distance 0.1712 > 0.1"
  ]


def test_drift_lines_of_features_read_from_anomalies():
  """The features as DriftCheck's executor reads them from DistributionValidator's anomalies."""
  anomalies = anomalies_pb2.Anomalies()
  for name, kind, value, threshold in (
    ("label", anomalies_pb2.DriftSkewInfo.Measurement.L_INFTY, 0.25, 0.1),
    ("width", anomalies_pb2.DriftSkewInfo.Measurement.JENSEN_SHANNON_DIVERGENCE, 0.01, 0.1),
  ):
    info = anomalies.drift_skew_info.add()
    info.path.step.append(name)
    measurement = info.drift_measurements.add()
    measurement.type, measurement.value, measurement.threshold = kind, value, threshold
  anomalies.anomaly_info["label"].description = "drifted"
  report = {**_report([]), "features": drift_executor.features(anomalies)}
  report["drifted"] = [f["feature"] for f in report["features"] if f["drifted"]]
  assert report["drifted"] == ["label"]
  assert schedule.drift_summary_lines(readers.drift_block(report)) == [
    "  drift against the previous run's data (span 2) (warning): "
    "label: L-infinity distance 0.2500 > 0.1"
  ]


# --- schedule.warm_start_text, of training_settings.json's warm_start (Decision.record())


def test_warm_start_text_of_a_warm_start():
  record = warm_start.Decision("/serving/1700000000", "", 3, warm_start.RATE_FACTOR).record()
  assert schedule.warm_start_text(record) == (
    "warm start: from /serving/1700000000, 3 epochs at 0.1x the learning rate"
  )


def test_warm_start_text_of_a_start_from_scratch():
  record = warm_start.Decision(None, "no blessed model to start from", 10).record()
  assert schedule.warm_start_text(record) == "trained from scratch: no blessed model to start from"


def test_warm_start_text_without_a_rate_factor():
  assert schedule.warm_start_text({"from": "/serving/1", "epochs": 2}) == (
    "warm start: from /serving/1, 2 epochs at 1x the learning rate"
  )


# --- summary.add_drift_block


def test_add_drift_block_fails_the_run_on_each_drifted_feature():
  report = _report([LABEL, WIDTH, BRIGHTNESS], on_drift="block")
  result = {
    "drift": {},
    "failed_gates": ["accuracy 0.41 < 0.8 on test"],
    "blessed": True,
  }
  returned = summary.add_drift_block(result, report)
  assert returned is result
  assert result["blessed"] is False
  assert result["failed_gates"] == [
    "drift: brightness: Jensen-Shannon divergence 0.2345 > 0.15 (--on-drift block)",
    "drift: label: L-infinity distance 0.1712 > 0.1 (--on-drift block)",
    "accuracy 0.41 < 0.8 on test",
  ]
  assert result["drift"] == {**report, "lines": drift_executor.drift_lines(report)}
  assert schedule.drift_summary_lines(result["drift"]) == [
    "  drift against the previous run's data (span 2) (blocked the run): "
    "brightness: Jensen-Shannon divergence 0.2345 > 0.15",
    "  drift against the previous run's data (span 2) (blocked the run): "
    "label: L-infinity distance 0.1712 > 0.1",
  ]


def test_add_drift_block_of_a_run_without_failed_gates():
  result = summary.add_drift_block(
    {"failed_gates": [], "blessed": False}, _report([HEIGHT_MISSING], on_drift="block")
  )
  assert result["failed_gates"] == [
    "drift: height: could not be compared with the previous data (--on-drift block)"
  ]
  assert result["blessed"] is False
