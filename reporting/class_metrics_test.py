"""Per-class figures from a confusion matrix: counts, never-predicted classes, Wilson intervals."""

import pytest

from reporting import class_metrics


@pytest.mark.parametrize(
  "successes, trials, low, high",
  [
    (5, 10, 0.2366, 0.7634),  # textbook values of the Wilson score interval
    (0, 10, 0.0, 0.2775),
    (10, 10, 0.7225, 1.0),
    (81, 263, 0.2553, 0.3662),
  ],
)
def test_wilson_interval(successes, trials, low, high):
  assert class_metrics.wilson_interval(successes, trials) == (
    pytest.approx(low, abs=1e-4),
    pytest.approx(high, abs=1e-4),
  )


def test_no_trials_no_interval():
  assert class_metrics.wilson_interval(0, 0) is None


def test_per_class_counts_come_from_the_matrix_and_a_class_never_predicted_has_precision_0():
  matrix = {
    "classes": ["cat", "dog", "owl"],
    "counts": [
      [8, 2, 0],  # actual cat
      [3, 7, 0],  # actual dog
      [1, 4, 0],
    ],
  }  # actual owl: never predicted as owl
  tfma_values = {
    "cat": {"precision": 8 / 12, "recall": 0.8, "f1_score": 0.727},
    "dog": {"precision": 7 / 13, "recall": 0.7, "f1_score": 0.609},
    "owl": {"precision": None, "recall": 0.0, "f1_score": 0.0},
  }
  figures = class_metrics.per_class(tfma_values, matrix)
  assert [(f["images"], f["predicted"]) for f in figures.values()] == [(10, 12), (10, 13), (5, 0)]
  assert figures["owl"]["precision"] == 0.0 and figures["owl"]["never_predicted"]
  assert figures["owl"]["precision_95ci"] is None
  assert figures["cat"]["recall_95ci"] == [
    round(x, 4) for x in class_metrics.wilson_interval(8, 10)
  ]
  assert figures["cat"]["precision_95ci"] == [
    round(x, 4) for x in class_metrics.wilson_interval(8, 12)
  ]


def test_few_images_are_warned_about_only_when_classes_are_gated():
  figures = {
    "cat": {"images": 29, "recall": 0.5, "recall_95ci": [0.33, 0.67]},
    "dog": {"images": 30, "recall": 0.9, "recall_95ci": [0.74, 0.97]},
  }
  assert class_metrics.warnings(figures, gated=False, split="eval") == []
  assert class_metrics.warnings(figures, gated=True, split="test") == [
    "class cat has only 29 test images: its recall 0.5 could be anywhere in 0.33-0.67 (95 %)"
  ]


def _few(names, images=4):
  return {n: {"images": images, "recall": 0.5, "recall_95ci": [0.1, 0.9]} for n in names}


def test_up_to_ten_small_classes_get_a_line_each_and_more_one_line_naming_them():
  ten = _few([f"c{i}" for i in range(10)])
  assert len(class_metrics.warnings(ten, gated=True, split="eval")) == 10
  eleven = {**ten, "c10": {"images": 7, "recall": 1.0, "recall_95ci": [0.6, 1.0]}}
  eleven["big"] = {"images": 30, "recall": 0.9, "recall_95ci": [0.7, 1.0]}  # not few
  assert class_metrics.warnings(eleven, gated=True, split="test") == [
    "11 classes have fewer than 30 test images each, too few for their recall and precision "
    "to mean much: " + ", ".join(f"'c{i}' (4)" for i in range(10)) + ", 'c10' (7)"
  ]
  assert class_metrics.warnings(eleven, gated=False, split="test") == []


def test_class_names_cannot_break_a_warning_into_lines():
  hostile = ["two\nlines", "carriage\r", "esc\x1b[31mred", "it's, a", "para\u2029graph"]
  one_each = class_metrics.warnings(_few(hostile), gated=True, split="eval")
  assert len(one_each) == 5
  assert one_each[0].startswith("class two lines has only 4 eval images")
  assert all(line.isprintable() for line in one_each)
  (collapsed,) = class_metrics.warnings(
    _few(hostile + [f"x{i}" for i in range(6)]), gated=True, split="eval"
  )
  assert collapsed.isprintable()  # no line break, no escape sequence
  assert "'two\\nlines' (4), 'carriage\\r' (4), 'esc\\x1b[31mred' (4), \"it's, a\" (4)" in collapsed


def test_the_most_confused_pairs_come_first_with_their_share_of_the_true_class():
  matrix = {
    "classes": ["cat", "dog", "owl"],
    "counts": [
      [8, 2, 0],  # cat: 2 of 10 called dog
      [4, 16, 0],  # dog: 4 of 20 called cat
      [0, 2, 2],  # owl: 2 of 4 called dog
    ],
  }
  assert class_metrics.confused_pairs(matrix) == [
    {"true": "dog", "predicted": "cat", "images": 4, "share_of_true": 0.2},
    {"true": "owl", "predicted": "dog", "images": 2, "share_of_true": 0.5},  # larger share first
    {"true": "cat", "predicted": "dog", "images": 2, "share_of_true": 0.2},
  ]
  assert class_metrics.confused_pairs(matrix, count=1)[0]["true"] == "dog"
  assert class_metrics.normalized(matrix) == [[0.8, 0.2, 0.0], [0.2, 0.8, 0.0], [0.0, 0.5, 0.5]]


def test_a_perfect_matrix_has_no_confused_pairs_and_an_empty_class_row_of_zeros():
  matrix = {"classes": ["a", "b"], "counts": [[3, 0], [0, 0]]}
  assert class_metrics.confused_pairs(matrix) == []
  assert class_metrics.normalized(matrix) == [[1.0, 0.0], [0.0, 0.0]]
