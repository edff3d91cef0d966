"""DriftCheck's executor on real statistics (ImageExampleGen and StatisticsGen executors on real
digit scans): each distance against one computed from the data, warn and block, and the
JSON-string config a Kubeflow V2 container hands it."""

import json
import os

import pytest
from google.protobuf import json_format
from tfx import v1 as tfx
from tfx.components.statistics_gen import executor as statistics_executor
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs as spec

from components.drift_check import DriftCheck, executor
from schemas import filenames
from tests import images, schedule, training

pytestmark = pytest.mark.integration


def _statistics(data_dir, work, span):
  examples = training.ingest(data_dir, os.path.join(work, "ingest"))
  examples.span = span  # as ImageExampleGen's driver records it; StatisticsGen copies it
  statistics = standard_artifacts.ExampleStatistics()
  statistics.uri = os.path.join(work, "statistics")
  statistics_executor.Executor().Do(
    {spec.EXAMPLES_KEY: [examples]},
    {spec.STATISTICS_KEY: [statistics]},
    dict(tfx.components.StatisticsGen(examples=training.EXAMPLES).exec_properties),
  )
  return examples, statistics


def _check(work, statistics, baseline, on_drift="warn", as_json=False):
  component = DriftCheck(
    statistics=tfx.dsl.Channel(type=standard_artifacts.ExampleStatistics),
    baseline_statistics=tfx.dsl.Channel(type=standard_artifacts.ExampleStatistics),
    on_drift=on_drift,
  )
  properties = dict(component.exec_properties)
  if as_json:  # as TFX's Kubeflow V2 entrypoint passes a proto parameter
    key = spec.DISTRIBUTION_VALIDATOR_CONFIG_KEY
    properties[key] = json_format.MessageToJson(properties[key])
  anomalies = standard_artifacts.ExampleAnomalies()
  anomalies.uri = os.path.join(work, f"anomalies-{on_drift}-{as_json}")
  executor.Executor().Do(
    {spec.STATISTICS_KEY: [statistics], spec.BASELINE_STATISTICS_KEY: baseline},
    {spec.ANOMALIES_KEY: [anomalies]},
    properties,
  )
  return executor.read_report(anomalies.uri)


@pytest.fixture(scope="module")
def days(tmp_path_factory):
  """Days 2 and 3 of the schedule (on day 3 class 3 is gone, class 0 tripled), and day 2's
  scans at twice the size."""
  root = tmp_path_factory.mktemp("drift")
  data = str(root / "data")
  found = {
    day: _statistics(schedule.write_day(data, day), str(root / f"{day}"), day) for day in (2, 3)
  }
  larger = str(root / "larger")
  for digit, (skip, count) in schedule.DAYS[2].items():
    images.write_tree(larger, images.digit_files({digit: count}, skip=skip, scale=2))
  found["larger"] = _statistics(larger, str(root / "larger-work"), 3)
  return str(root), found


def test_the_label_distance_is_the_l_infinity_of_the_label_shares_on_disk(days, capsys):
  work, found = days
  (day2, day2_statistics), (day3, day3_statistics) = found[2], found[3]
  report = _check(work, day3_statistics, [day2_statistics])
  label = next(f for f in report["features"] if f["feature"] == "label")
  measured = schedule.l_infinity(schedule.label_shares(day3.uri), schedule.label_shares(day2.uri))
  assert label["measure"] == "L-infinity distance" and label["threshold"] == 0.1
  assert label["distance"] == pytest.approx(measured, abs=1e-4) and label["drifted"]
  assert measured > 0.1  # day 3's class mix really moved
  assert {f["feature"] for f in report["features"]} == {
    "label",
    "width",
    "height",
    "channels",
    "brightness",
  }
  assert report["span"] == 3 and report["baseline"]["span"] == 2
  assert report["drifted"] == [f["feature"] for f in report["features"] if f["drifted"]]
  printed = capsys.readouterr().out
  assert (
    f"[DriftCheck] drift against the previous run's data (span 2): label: "
    f"L-infinity distance {label['distance']:.4f} > 0.1"
  ) in printed
  # The same data on both sides: every distance 0, nothing drifted.
  same = _check(work, day2_statistics, [day2_statistics])
  assert same["drifted"] == [] and {f["distance"] for f in same["features"]} == {0.0}


def test_images_of_another_size_drift_on_width_and_height_and_block_names_them(days):
  work, found = days
  larger, day2 = found["larger"][1], found[2][1]
  with pytest.raises(executor.DriftBlocked) as blocked:
    _check(work, larger, [day2], on_drift="block", as_json=True)
  report = blocked.value.report
  assert {"width", "height"} <= set(report["drifted"]) and "label" not in report["drifted"]
  sizes = {f["feature"]: f for f in report["features"]}
  # Every 8x8 scan now 16x16: the two histograms share no bucket, so the divergence is at its
  # maximum, 1 (log base 2).
  assert sizes["width"]["measure"] == "Jensen-Shannon divergence"
  assert sizes["width"]["distance"] == pytest.approx(1.0, abs=1e-3)
  message = str(blocked.value)
  for name in report["drifted"]:
    assert f"{name}: " in message
  assert message.startswith("data drift against the previous run's data (span 2) (--on-drift")
  with open(os.path.join(work, "anomalies-block-True", filenames.DRIFT_REPORT)) as f:
    assert json.load(f) == report  # written before the run stops


def test_a_first_run_has_nothing_to_compare_with(days, capsys):
  work, found = days
  report = _check(work, found[2][1], [], on_drift="block")
  assert report["baseline"] is None and report["features"] == [] and report["drifted"] == []
  assert "[DriftCheck] no earlier statistics to compare with (first run)" in capsys.readouterr().out
