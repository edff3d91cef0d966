"""The span window keeps one artifact per span, the newest, within TFX's rolling range; the
drift baseline is the newest statistics of an earlier span, locally and in a compiled spec."""

from tfx import v1 as tfx
from tfx.types import standard_artifacts

from pipeline import spans


def _examples(artifact_id, span, version=None):
  artifact = standard_artifacts.Examples()
  artifact.id = artifact_id
  artifact.set_int_custom_property("span", span)
  if version is not None:
    artifact.set_int_custom_property("version", version)
  return artifact


def _resolve(artifacts, window):
  strategy = spans.LatestSpans(
    tfx.proto.RangeConfig(rolling_range=tfx.proto.RollingRange(num_spans=window))
  )
  return strategy.resolve_artifacts(None, {"examples": artifacts})["examples"]


def test_the_newest_n_spans_each_once_the_newest_artifact_of_a_span_wins():
  artifacts = [
    _examples(1, 1),
    _examples(2, 2),
    _examples(3, 2),  # span 2 ingested again after its files changed
    _examples(4, 3, version=1),
    _examples(5, 3, version=0),  # an older version written later
  ]
  assert [a.id for a in _resolve(artifacts, 2)] == [4, 3]
  assert [a.id for a in _resolve(artifacts, 3)] == [4, 3, 1]
  assert [a.id for a in _resolve(artifacts, 10)] == [4, 3, 1]
  assert [a.id for a in _resolve(artifacts, 1)] == [4]


def test_a_span_stored_as_text_counts_as_its_number():
  old = standard_artifacts.Examples()
  old.id = 7
  old.set_string_custom_property("span", "12")
  assert [a.id for a in _resolve([old, _examples(8, 11)], 1)] == [7]


def _statistics(artifact_id, span):
  artifact = standard_artifacts.ExampleStatistics()
  artifact.id = artifact_id
  artifact.span = span
  return artifact


def test_the_drift_baseline_is_the_newest_statistics_of_an_earlier_span():
  day = [_statistics(1, 1), _statistics(2, 2), _statistics(5, 2), _statistics(7, 3)]
  assert [a.id for a in spans.previous_statistics(day)] == [5]
  # Span 3 run again (blocked by drift, then with warnings): still compared with span 2.
  assert [a.id for a in spans.previous_statistics(day + [_statistics(9, 3)])] == [5]
  assert spans.previous_statistics([_statistics(1, 4)]) == []
  # Without spans (all 0): the statistics of the run before.
  assert [a.id for a in spans.previous_statistics([_statistics(1, 0), _statistics(3, 0)])] == [1]
  assert spans.previous_statistics([]) == []
