"""Split patterns: placeholders found, split roots, and --data-dir split into base and pattern."""

from components.image_example_gen import spans


def test_placeholders_are_tfx_spans_versions_and_dates():
  for path in ("day-{SPAN}", "d/{SPAN:4}", "v{VERSION}", "{YYYY}-{MM}-{DD}", "labels-{SPAN}.csv"):
    assert spans.has_spec(path), path
  assert not spans.has_spec("data/{span}/x") and not spans.has_spec("/data/images")


def test_a_split_root_is_the_pattern_less_its_class_tree():
  assert spans.split_root(spans.CLASS_PATTERN) == ""
  assert spans.split_root("day-{SPAN}/train/*/*") == "day-{SPAN}/train"
  assert spans.split_root("labels-{SPAN}.csv") == "labels-{SPAN}.csv"


def test_base_and_prefix_is_the_inverse_of_span_path():
  assert spans.base_and_prefix("/data/images") == ("/data/images", "")
  assert spans.base_and_prefix("/data/labels.csv") == ("/data", "labels.csv")
  assert spans.base_and_prefix("labels.csv") == (".", "labels.csv")
  assert spans.base_and_prefix("/data/day-{SPAN}/v{VERSION}") == ("/data", "day-{SPAN}/v{VERSION}")
  assert spans.base_and_prefix("gs://b/x/labels-{SPAN}.csv") == ("gs://b/x", "labels-{SPAN}.csv")
  config = '{"splits": [{"name": "images", "pattern": "day-{SPAN}/v{VERSION}/*/*"}]}'
  assert spans.span_path("/data", config) == "/data/day-{SPAN}/v{VERSION}"
