"""What a run did as text (reporting/run_text.py), and the record's parts they come from: a pushed
model's regression (outputs.regression), a run DriftCheck stopped (outputs.blocked), a cached
Trainer, the served model compared with, the serving dir. Drift reports are built as
DriftCheck's executor writes drift.json."""

import pytest
from tensorflow_metadata.proto.v0 import anomalies_pb2

from components.drift_check import executor as drift_executor
from reporting import outputs, readers
from reporting import run_text as text
from schemas import nodes
from schemas.outcomes import StageState
from schemas.run_record import ModelRef, RunRecord, Serving, StageRecord
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


PUSHED = {"pushed_model_path": "/serving/1700000000", "new_version": True}


def _record(**fields) -> RunRecord:
  return RunRecord("p", "2026-12-07T10:00:00", **fields)


# --- outputs.regression and run_text.regression_line


def test_a_pushed_model_less_accurate_than_its_baseline_is_a_regression():
  metrics = _metrics(-0.0146)
  change = outputs.regression(metrics, PUSHED)
  assert change == -0.0146
  line = text.regression_line(
    _record(metrics=metrics, pushed_regression=change, thresholds={"change": -0.02})
  )
  assert line == (
    "regression: the pushed model is 0.0146 less accurate than the served model on the "
    "same test images (0.9512 vs 0.9658; --change-threshold -0.02 allows it)"
  )


def test_regression_line_names_the_eval_split_by_default():
  metrics = _metrics(-0.031, accuracy=0.9)
  del metrics["split"]
  line = text.regression_line(
    _record(
      metrics=metrics,
      pushed_regression=outputs.regression(metrics, PUSHED),
      thresholds={"change": -0.05},
    )
  )
  assert "0.0310 less accurate" in line
  assert "on the same eval images" in line
  assert "(0.9000 vs 0.9310; --change-threshold -0.05 allows it)" in line


@pytest.mark.parametrize(
  "metrics, push",
  [
    (_metrics(-0.0146), {"pushed_model_path": None}),  # not pushed
    (_metrics(-0.0146), {"pushed_model_path": ""}),
    (_metrics(-0.0146), {**PUSHED, "new_version": False}),  # the served model: nothing new
    (_metrics(0.0), PUSHED),  # no worse
    (_metrics(0.012), PUSHED),  # better
    ({"accuracy": 0.95, "split": "test"}, PUSHED),  # no baseline: the first model
    ({"accuracy": 0.95, "baseline": None}, PUSHED),
    ({"accuracy": 0.95, "baseline": {"accuracy": 0.96}}, PUSHED),  # no change recorded
    ({}, PUSHED),  # no evaluation
  ],
)
def test_no_regression(metrics, push):
  assert outputs.regression(metrics, push) is None


# --- run_text.span_line


def _stages(**states) -> dict:
  return {getattr(nodes, name): StageRecord(state) for name, state in states.items()}


def test_span_line_of_a_window_of_spans():
  record = _record(span=3, spans=[3, 2], stages=_stages(TRAINER=StageState.RAN))
  assert text.span_line(record) == "span: 3 ingested; trained on spans 3, 2"


@pytest.mark.parametrize("spans", [[3], []])
def test_span_line_of_one_span(spans):
  record = _record(span=3, spans=spans, stages=_stages(TRAINER=StageState.CACHED))
  assert text.span_line(record) == "span: 3 ingested; trained on span 3"


def test_a_span_that_drift_blocked_was_not_trained_on():
  record = _record(span=4, spans=[4], stages=_stages(DRIFT_CHECK=StageState.BLOCKED))
  assert text.span_line(record) == "span: 4 ingested; not trained: drift blocked span 4"
  failed = _record(span=4, spans=[4], stages=_stages(TRAINER=StageState.FAILED))
  assert text.span_line(failed) == "span: 4 ingested; not trained"


def test_no_span_line_for_data_without_spans():
  assert text.span_line(_record(span=0, stages=_stages(TRAINER=StageState.RAN))) is None
  assert text.span_line(_record()) is None


# --- run_text.drift_lines (of run_summary.json's `drift`: readers.drift_block)


def test_no_drift_report():
  assert text.drift_lines({}) == []
  assert readers.drift_block({}) == {}


def test_no_baseline_to_compare_with():
  drift = readers.drift_block(_report([], baseline_span="none"))
  assert text.drift_lines(drift) == ["drift: no earlier data to compare with"]


def test_no_drifted_feature():
  drift = readers.drift_block(_report([WIDTH]))
  assert drift["lines"] == []
  assert text.drift_lines(drift) == ["drift: none against the previous run's data (span 2)"]


def test_no_drifted_feature_against_data_without_a_span():
  drift = readers.drift_block(_report([WIDTH], baseline_span=None))
  assert text.drift_lines(drift) == ["drift: none against the previous run's data"]


def test_drifted_features_under_warn():
  drift = readers.drift_block(_report([LABEL, WIDTH, BRIGHTNESS, HEIGHT_MISSING]))
  assert text.drift_lines(drift) == [
    "drift against the previous run's data (span 2) (warning): "
    "brightness: Jensen-Shannon divergence 0.2345 > 0.15",
    "drift against the previous run's data (span 2) (warning): "
    "height: could not be compared with the previous data",
    "drift against the previous run's data (span 2) (warning): "
    "label: L-infinity distance 0.1712 > 0.1",
  ]


def test_drifted_features_under_block():
  drift = readers.drift_block(_report([LABEL, WIDTH], on_drift="block", baseline_span=0))
  assert text.drift_lines(drift) == [
    "drift against the previous run's data (span 0) (blocked the run): "
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
  assert text.drift_lines(readers.drift_block(report)) == [
    "drift against the previous run's data (span 2) (warning): "
    "label: L-infinity distance 0.2500 > 0.1"
  ]


# --- run_text.warm_start_text, of training_settings.json's warm_start (Decision.record())


def test_warm_start_text_of_a_warm_start():
  record = warm_start.Decision("/root/Trainer/model/7", "", 3, warm_start.RATE_FACTOR).record()
  assert text.warm_start_text(record) == (
    "warm start: from the last blessed model (/root/Trainer/model/7), 3 epochs at 0.1x the "
    "learning rate"
  )
  model = ModelRef(uri="/root/Trainer/model/7", run_id="2026-12-06T09:00:00")
  assert text.warm_start_text(record, model) == (
    "warm start: from the last blessed model (run 2026-12-06T09:00:00), 3 epochs at 0.1x the "
    "learning rate"
  )


def test_warm_start_text_of_a_start_from_scratch():
  record = warm_start.Decision(None, "no blessed model to start from", 10).record()
  assert text.warm_start_text(record) == "trained from scratch: no blessed model to start from"


def test_warm_start_text_without_a_rate_factor():
  assert text.warm_start_text({"from": "/serving/1", "epochs": 2}) == (
    "warm start: from the last blessed model (/serving/1), 2 epochs at 1x the learning rate"
  )


# --- run_text.training_lines: what the Trainer did in this run

TRAINING = {"epochs": 6, "train_seconds": 12.3, "images_per_second": 980.4, "warm_start": None}


def test_a_trainer_that_ran_reports_its_epochs_and_speed():
  record = _record(training=TRAINING, stages=_stages(TRAINER=StageState.RAN))
  assert text.training_lines(record) == ["training: 6 epochs, 12.3 s, 980 images/s"]


def test_a_cached_trainer_reports_the_run_it_came_from_not_epochs():
  stages = {nodes.TRAINER: StageRecord(StageState.CACHED, 0.0, from_run="2026-12-06T09:00:00")}
  record = _record(training=TRAINING, stages=stages)
  assert text.training_lines(record) == [
    "training: cached from run 2026-12-06T09:00:00 (not run again)"
  ]


def test_an_ensemble_reports_epochs_per_member():
  training = {**TRAINING, "member_epochs": [3, 3]}
  record = _record(training=training, stages=_stages(TRAINER=StageState.RAN))
  assert text.training_lines(record) == ["training: 2 members x 3 epochs, 12.3 s, 980 images/s"]
  record.training = {**TRAINING, "member_epochs": [3, 2]}
  assert text.training_lines(record)[0].startswith("training: members 3, 2 epochs,")


def test_no_training_lines_for_a_run_that_did_not_train():
  assert text.training_lines(_record(stages=_stages(DRIFT_CHECK=StageState.BLOCKED))) == []


# --- run_text.baseline_line and serving_line: the served model


def test_the_baseline_is_named_as_the_served_model():
  record = _record(metrics=_metrics(0.01), thresholds={"change": 0.0})
  record.models.baseline = ModelRef(uri="/m/1", run_id="r1", version="1700000000")
  assert text.baseline_line(record) == (
    "baseline (the served model, version 1700000000, run r1) accuracy: 0.9412, change "
    "+0.0100 (allowed +0.0)"
  )
  first = _record(metrics={"accuracy": 0.9}, thresholds={"change": 0.0})
  first.models.baseline_reason = "no model served yet"
  assert text.baseline_line(first) == "baseline: none (no model served yet): thresholds only"


def test_serving_lines_for_a_push_an_unchanged_model_and_no_push():
  pushed = _record(
    pushed_model_path="/s/2", pushed_version="2", serving=Serving("1", "2", new_version=True)
  )
  assert text.serving_line(pushed) == "pushed: version 2 (/s/2), replacing version 1"
  same = _record(
    pushed_model_path="/s/2",
    pushed_version="2",
    serving=Serving("2", "2"),
    stages={nodes.TRAINER: StageRecord(StageState.CACHED, from_run="r0")},
  )
  same.models.candidate_is_served = True
  assert text.serving_line(same) == "no new data since run r0; serving version 2 unchanged"
  refused = _record(serving=Serving("2", "2"))
  assert text.serving_line(refused) == "pushed: nothing; serving version 2 unchanged"


# --- outputs.blocked


def test_a_blocked_run_fails_on_each_drifted_feature():
  report = _report([LABEL, WIDTH, BRIGHTNESS], on_drift="block")
  result = _record(failed_gates=["accuracy 0.41 < 0.8 on test"], blessed=True)
  outputs.blocked(result, report)
  assert result.blessed is False
  assert result.failed_gates == [
    "drift: brightness: Jensen-Shannon divergence 0.2345 > 0.15 (--on-drift block)",
    "drift: label: L-infinity distance 0.1712 > 0.1 (--on-drift block)",
    "accuracy 0.41 < 0.8 on test",
  ]
  assert result.drift == {**report, "lines": drift_executor.drift_lines(report)}
  assert text.drift_lines(result.drift) == [
    "drift against the previous run's data (span 2) (blocked the run): "
    "brightness: Jensen-Shannon divergence 0.2345 > 0.15",
    "drift against the previous run's data (span 2) (blocked the run): "
    "label: L-infinity distance 0.1712 > 0.1",
  ]


def test_a_blocked_run_without_failed_gates():
  result = _record()
  outputs.blocked(result, _report([HEIGHT_MISSING], on_drift="block"))
  assert result.failed_gates == [
    "drift: height: could not be compared with the previous data (--on-drift block)"
  ]
  assert result.blessed is False
