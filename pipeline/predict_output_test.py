"""predict's rows in every form: the same keys, --top-k, hostile names and paths. (Against a
served model's answers: pipeline/predict_test.py.)"""

import csv
import io
import json

import pytest

from pipeline import predict_output as output

NAMES = ['=HYPERLINK("x")', "+SUM(1+1)", "-1", "@cmd", "cat"]
P = [0.1, 0.2, 0.05, 0.25, 0.4]


def _rows(top_k=1, explain=False):
  ranked = sorted(range(len(P)), key=lambda i: -P[i])
  return [
    output.row("=cmd.png", "a" * 64, P, ranked[:top_k], NAMES, top_k, None, explain, "x.png"),
    output.row("-2.png", None, None, [], NAMES, top_k, "missing_file", explain, None),
  ]


def test_a_rows_keys_are_the_batch_inference_csvs_with_the_runners_up_and_explanation():
  assert list(_rows()[0]) == [
    "path",
    "sha256",
    "predicted_class",
    "top_probability",
    *(f"p_{n}" for n in NAMES),
    "error",
  ]
  good, bad = _rows(top_k=3, explain=True)
  assert list(good)[2:8] == [
    "predicted_class",
    "top_probability",
    "top_2_class",
    "top_2_probability",
    "top_3_class",
    "top_3_probability",
  ]
  assert [good[k] for k in ("predicted_class", "top_2_class", "top_3_class")] == [
    "cat",
    "@cmd",
    "+SUM(1+1)",
  ]
  assert [good[k] for k in ("top_probability", "top_2_probability", "top_3_probability")] == [
    0.4,
    0.25,
    0.2,
  ]
  assert good["explanation"] == "x.png" and good["error"] is None
  assert list(bad) == list(good) and bad["error"] == "missing_file"
  assert {k: v for k, v in bad.items() if v is not None} == {
    "path": "-2.png",
    "error": "missing_file",
  }


def test_csv_cells_a_spreadsheet_would_run_are_text_and_the_jsonl_has_the_same_keys():
  rows = _rows(top_k=2)
  as_csv, as_jsonl = io.StringIO(), io.StringIO()
  output.write_rows(as_csv, "csv", rows, NAMES)
  output.write_rows(as_jsonl, "jsonl", rows, NAMES)
  header, good, bad = list(csv.reader(io.StringIO(as_csv.getvalue())))
  assert header == list(rows[0])  # "p_=..." starts with p_: nothing to run
  assert good[:6] == ["'=cmd.png", "a" * 64, "cat", "0.4", "'@cmd", "0.25"]
  assert [float(v) for v in good[6:11]] == P  # numbers stay numbers
  assert bad == ["'-2.png", "", "", "", "", "", "", "", "", "", "", "missing_file"]
  lines = [json.loads(line) for line in as_jsonl.getvalue().splitlines()]
  assert [list(line) for line in lines] == [[*header, "probabilities"]] * 2
  assert lines[0]["path"] == "=cmd.png"  # JSON is not a spreadsheet: as it is
  assert lines[0]["probabilities"] == dict(zip(NAMES, P)) and lines[1]["probabilities"] is None


def test_the_plain_line_has_each_of_the_top_k_and_the_closing_line_says_where():
  good = _rows(top_k=2, explain=True)[0]
  assert output.text_line(good, 2) == "=cmd.png\tcat\t0.4000\t@cmd\t0.2500\tx.png"
  assert output.closing_line(32, 30, 0.128, "written to p.csv") == (
    "[predict] 32 images: 30 classified, 2 failed; 4.0 ms per image; written to p.csv"
  )
  assert output.closing_line(2, 2, 0.5, "lines on stdout", "heat/").endswith(
    "250.0 ms per image; lines on stdout; Grad-CAM images in heat/"
  )


def test_an_output_that_cannot_be_written_is_refused(tmp_path):
  (tmp_path / "dir.jsonl").mkdir()
  for path, message in (
    (tmp_path / "p.tsv", "name a .csv or .jsonl file"),
    (tmp_path / "dir.jsonl", "is a folder; name a .csv or .jsonl file in it"),
    (tmp_path / "no" / "p.csv", f"{tmp_path / 'no'} does not exist"),
  ):
    with pytest.raises(output.UsageError) as e:
      output.check_output(str(path))
    assert str(e.value) == f"--output {path}: {message}"
  output.check_output(str(tmp_path / "P.CSV"))  # any case
