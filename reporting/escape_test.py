"""Hostile class names, paths and labels reach the model card and per-class table as text:
rendered by a CommonMark parser with raw HTML on (as Kubeflow and Vertex AI show Markdown), no
tag of theirs survives and every table row keeps its cells."""

import html
import re

from markdown_it import MarkdownIt

from reporting import card, class_metrics, escape, prediction_drift
from schemas import csv_cells
from schemas.outcomes import Status
from schemas.run_record import LabelIssues, RunRecord

HOSTILE = [
  "<script>alert(1)</script>",
  "<img src=x onerror=alert(1)>",
  "a|b",
  "`tick`",
  "two\nlines",
  "**bold** [link](http://x) ![i](y) ~~s~~ _u_ \\",
  "$x^2$",
  "plain",
]
PATH = "/data/<b>`odd`|dir</b>/day-{SPAN}"


def _render(markdown: str) -> str:
  return MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)


def _text(rendered: str) -> str:
  """What a reader sees: the HTML's text, tags dropped, entities decoded."""
  return html.unescape(re.sub(r"<[^>]+>", "", rendered))


def _summary():
  counts = [[3 if i == j else (1 if j == (i + 1) % len(HOSTILE) else 0) for j in range(8)]
            for i in range(8)]  # fmt: skip
  matrix = {"classes": HOSTILE, "counts": counts}
  per_class = class_metrics.per_class({}, matrix)
  metrics = {"accuracy": 0.75, "examples": 32, "split": "eval", "per_class": per_class}
  return RunRecord(
    **{
      "pipeline_name": "<i>name</i>",
      "run_id": "run`1`",
      "status": Status.NOT_BLESSED,
      "blessed": False,
      "pushed_model_path": None,
      "data_dir": PATH,
      "span": 3,
      "images_found": 32,
      "images_ingested": 32,
      "images_rejected": {},
      "splits": {"train": 24, "eval": 8},
      "classes": HOSTILE,
      "metrics": {**metrics, "confusion_matrix": matrix},
      "thresholds": {
        "accuracy": 0.8,
        "min_class_recall": 0.5,
        "min_class_precision": 0.5,
        "change": 0.0,
      },
      "failed_gates": [f"recall of class {HOSTILE[0]} 0.3 < 0.5"],
      "metric_warnings": [f"class {HOSTILE[1]} has only 4 eval images"],
      "advice": f"eval accuracy 0.1 is near chance (0.1); 100% of the images predicted {HOSTILE[0]}",
      "predictions": {
        "file": "predictions.csv",
        "split": "eval",
        "images": 32,
        "mistakes": len(HOSTILE),
        "most_confident_mistakes": [
          {"path": f"{n}/x|y.png", "true_class": n, "predicted_class": "plain", "probability": 0.9}
          for n in HOSTILE
        ],
      },
    }
  )


def test_hostile_names_are_text_in_the_model_card():
  summary = _summary()
  markdown = card.model_card(summary)
  assert "\\$x^2\\$" in markdown and "$x^2$" not in markdown  # no math where renderers have it
  rendered = _render(markdown)
  for tag in ("<script", "<img", "<b>", "<i>", "<em>", "<del>"):
    assert tag not in rendered, tag
  assert rendered.count("<strong>") == 1  # the card's own "**Blessed: no**"
  assert re.findall(r"<a [^>]*>", rendered) == ['<a href="predictions.csv">']  # the card's own
  seen = _text(rendered)
  assert "Model card: <i>name</i>" in seen
  assert f"Source: {PATH} (span 3)" in seen
  assert "Classes (8): " + ", ".join(n.replace("\n", " ") for n in HOSTILE) in seen
  assert f"FAILED: recall of class {HOSTILE[0]} 0.3 < 0.5" in seen
  assert (
    f"Advice: eval accuracy 0.1 is near chance (0.1); 100% of the images predicted {HOSTILE[0]}"
    in seen
  )
  assert "Run run`1`: not_blessed. Blessed: no; pushed: nothing; serving version none " in seen
  # The most confident mistakes' table: a row per mistake, four cells each, the path as written.
  table = rendered[rendered.index("most confident mistakes") :]
  rows = re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)[1:]
  assert len(rows) == len(HOSTILE)
  for row, name in zip(rows, HOSTILE):
    cells = [_text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)]
    flat = name.replace("\n", " ")
    assert cells == [f"{flat}/x|y.png", flat, "plain", "0.90"]


def test_every_row_of_the_per_class_table_keeps_its_six_cells():
  summary = _summary()
  rendered = _render(card.per_class_table(summary))
  rows = re.findall(r"<tr>(.*?)</tr>", rendered, flags=re.S)
  assert len(rows) == 1 + len(HOSTILE)
  for row, name in zip(rows[1:], HOSTILE):
    cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, flags=re.S)
    assert len(cells) == 6, row
    assert _text(cells[0]) == name.replace("\n", " ")
    # The counts shown are the confusion matrix's: its row and column sums.
    assert _text(cells[1]) == str(summary.metrics["per_class"][name]["images"])
    assert _text(cells[2]) == str(summary.metrics["per_class"][name]["predicted"])


def _cells(rendered: str, after: str):
  """The text of each cell of the first table after `after`, row by row."""
  table = rendered[rendered.index(after) :]
  rows = re.findall(r"<tr>(.*?)</tr>", table[: table.index("</table>")], flags=re.S)
  return [[_text(c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", r, flags=re.S)] for r in rows]


def test_the_most_confused_pairs_keep_their_four_cells_in_the_card_and_per_class_md():
  summary = _summary()
  for markdown in (card.model_card(summary), card.per_class_markdown(summary)):
    rows = _cells(_render(markdown), "Most confused classes")
    assert rows[0] == ["true class", "predicted as", "images", "share of the true class"]
    # Each class sends one of its 4 eval images to the next: five pairs of 1 image, 25 %.
    assert rows[1:] == [
      [HOSTILE[i].replace("\n", " "), HOSTILE[i + 1].replace("\n", " "), "1", "25.0%"]
      for i in range(5)
    ]


def test_label_issues_and_prediction_drift_reach_the_card_as_text():
  summary = _summary()
  summary.label_issues = LabelIssues(
    out_of_fold="/x",
    folds=3,
    images={"train": 24, "eval": 8},
    issues=len(HOSTILE),
    by_split={"train": len(HOSTILE)},
    file="label_issues.csv",
    gallery="label_issues.png",
    top=[
      {
        "path": f"{n}/x|y.png",
        "split": "train",
        "given_label": n,
        "suggested_label": "plain",
        "self_confidence": 0.01,
        "rank": i,
      }
      for i, n in enumerate(HOSTILE, 1)
    ],
  )
  drift = prediction_drift.compare(
    {"predicted_classes": {HOSTILE[0]: 9, "plain": 1}, "mean_top_probability": 0.7},
    {
      "run_id": "run`0`",
      "inference": {"predicted_classes": {HOSTILE[0]: 1, "plain": 9}, "mean_top_probability": 0.9},
    },
    prediction_drift.PredictionDriftThresholds(),
  )
  summary.inference = {
    "status": "scored",
    "images_ingested": 10,
    "images_scored": 10,
    "images_found": 10,
    "images_rejected": {},
    "csv": "/out/<b>/predictions.csv",
    "prediction_logs": "/logs",
    "to_label": "/out/<b>/to_label.csv",
    "to_label_rows": 10,
    "prediction_drift": drift,
  }
  rendered = _render(card.model_card(summary))
  for tag in ("<script", "<img", "<b>", "<i>"):
    assert tag not in rendered, tag
  rows = _cells(rendered, "Likely label errors")
  assert rows[1:] == [
    [str(i), f"{n.replace(chr(10), ' ')}/x|y.png", "train", n.replace("\n", " "), "plain", "0.01"]
    for i, n in enumerate(HOSTILE, 1)
  ]
  seen = _text(rendered)
  assert "To label next: 10 files, least confident first, in /out/<b>/to_label.csv" in seen
  assert (
    "Prediction drift against run run`0`: l infinity, jensen shannon, mean top probability" in seen
  )
  rows = _cells(rendered, "Batch inference")
  assert rows[1][0] == f"predicted classes, L-infinity (class {HOSTILE[0]}: 0.90, was 0.10)"
  assert rows[1][1:] == ["0.8000", "0.1", "yes"]


def test_a_code_span_holds_any_backticks():
  for value in ("`", "a``b", "`start", "end`", "no ticks"):
    rendered = _render(escape.code(value))
    assert _text(rendered).strip() == value
    assert rendered.count("<code>") == 1


def test_plot_labels_keep_dollars_literal():
  import matplotlib  # noqa: PLC0415  (matplotlib: only to plot)

  matplotlib.use("Agg")
  from matplotlib import pyplot  # noqa: PLC0415  (matplotlib: only to plot)

  figure, axes = pyplot.subplots()
  label = axes.set_title(escape.plot("$x^2$ and $\\frac{$"))
  figure.canvas.draw()  # unescaped, '$\\frac{$' is bad TeX and raises here
  assert label.get_text() == "\\$x^2\\$ and \\$\\frac{\\$"
  pyplot.close(figure)


def test_the_ensemble_table_has_a_row_per_member_and_the_ensemble():
  summary = _summary()
  summary.ensemble = {
    "split": "eval",
    "accuracy": 0.75,
    "members": [
      {"model": "cnn", "seed": 0, "accuracy": 0.7, "epochs": 3},
      {"model": "efficientnet", "seed": 1, "accuracy": None, "epochs": None},
    ],
  }
  rendered = _render(card.model_card(summary))
  table = rendered[rendered.index("<h3>Ensemble</h3>") :]
  rows = re.findall(r"<tr>(.*?)</tr>", table[: table.index("</table>")], flags=re.S)
  cells = [
    [_text(c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", r, flags=re.S)] for r in rows
  ]
  assert cells == [
    ["model", "seed", "epochs", "eval accuracy"],
    ["member 1: cnn", "0", "3", "0.7000"],
    ["member 2: efficientnet", "1", "n/a", "n/a"],
    ["ensemble", "", "", "0.7500"],
  ]


# What a spreadsheet would run as a formula (OWASP's CSV injection list).
FORMULAS = ['=HYPERLINK("http://x","y")', "+SUM(1+1)", "-1", "@cmd", "\tTAB", "\rCR"]


def test_a_csv_cell_a_spreadsheet_would_run_gets_a_leading_quote():
  for value in FORMULAS:
    assert escape.csv_cell(value) == "'" + value
  for value in ("plain", "a=b", "1-2", "", "'=quoted", " =space", "cat/1.png"):
    assert escape.csv_cell(value) == value
  # Numbers the writer computed itself stay numbers, negative ones too.
  assert escape.csv_row([-1.5, 0.25, 3, None, "-x"]) == [-1.5, 0.25, 3, None, "'-x"]


def test_the_manifest_reader_reads_back_what_csv_cell_made_safe():
  for value in FORMULAS + ["plain", "'quoted", "'", ""]:
    assert csv_cells.unescape(escape.csv_cell(value)) == value
  # The one text it cannot give back: a value that began with ' and then a formula start.
  assert csv_cells.unescape(escape.csv_cell("'=x")) == "=x"
