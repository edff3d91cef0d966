"""From predictions to better data, with LocalDagRunner on real digits: wrong labels planted in
the data (--find-label-issues lists them, train split included), then two --infer-dir runs on
different class mixes (to_label.csv in the order of predictions.csv; prediction drift found,
its figures computed here again from the two runs' predictions.csv)."""

import csv
import os
import random
import shutil

import pytest
from scipy.spatial import distance

from tests import images, runs

pytestmark = pytest.mark.e2e

FLAGS = ("--image-size", "16", "--epochs", "8", "--accuracy-threshold", "0.3")
FLAGS += ("--min-class-recall", "0", "--min-class-precision", "0", "--warmup-requests", "2")
FLAGS += ("--export", "none")  # exports are tested in pipeline_e2e
PER_CLASS = 60


def _read(path):
  with open(path, newline="") as f:
    return list(csv.DictReader(f))


def _mix(low, high):
  """Unlabelled digits (not the training scans): `low` of each of 0-4, `high` of each of 5-9."""
  return images.digit_files({d: low if d < 5 else high for d in range(10)}, skip=PER_CLASS)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
  """Run 1: planted wrong labels, --find-label-issues, --infer-dir of mostly 0-4. Run 2 (the
  same data: the Trainer is cached), --infer-dir of mostly 5-9, --label-budget 20. Each run's
  summary, stdout and CSVs (copied before the next run replaces them), by folder/name."""
  work = tmp_path_factory.mktemp("data_centric")
  files = images.digit_files({d: PER_CLASS for d in range(10)})
  rng = random.Random(7)
  planted = {}  # file name -> (true digit, the wrong label given)
  for name in rng.sample(sorted(files), 18):
    digit = int(name.split("/")[0])
    planted[os.path.basename(name)] = (str(digit), str((digit + rng.randint(1, 9)) % 10))
  data = {}
  for name, content in files.items():
    digit, base = name.split("/")
    data[f"{planted[base][1] if base in planted else digit}/{base}"] = content
  data_dir, out = str(work / "data"), str(work / "out")
  images.write_tree(data_dir, data)
  result = []
  for i, (mix, flags) in enumerate(
    (
      (_mix(30, 5), ("--find-label-issues",)),
      (_mix(5, 30), ("--label-budget", "20")),
    )
  ):
    infer_dir = str(work / f"infer{i + 1}")
    images.write_tree(infer_dir, mix)
    done, summary = runs.run_local(
      data_dir, out, "data-centric-e2e", "--infer-dir", infer_dir, *FLAGS, *flags
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    kept = {}
    for folder, name in (("inference", "predictions.csv"), ("inference", "to_label.csv")) + (
      (
        ("report", "label_issues.csv"),
        ("report", "label_issues.png"),
        ("report", "predictions.csv"),
      )
      if i == 0
      else ()
    ):
      kept[f"{folder}/{name}"] = str(work / f"run{i + 1}_{folder}_{name}")
      shutil.copy(os.path.join(out, folder, name), kept[f"{folder}/{name}"])
    result.append({"summary": summary, "stdout": done.stdout, "infer_dir": infer_dir, **kept})
  return planted, out, result


def test_planted_wrong_labels_are_listed_train_split_included(two_runs):
  planted, out, (first, second) = two_runs
  summary = first["summary"]
  issues = summary["label_issues"]
  assert summary["stages"]["LabelIssues"]["state"] == "ran"
  assert issues["images"] == summary["splits"] and issues["folds"] == 3
  assert issues["error"] is None and issues["out_of_fold_accuracy"] > 0.8
  rows = _read(first["report/label_issues.csv"])
  assert list(rows[0]) == [
    "path",
    "split",
    "given_label",
    "suggested_label",
    "self_confidence",
    "rank",
  ]
  assert len(rows) == issues["issues"] and [int(r["rank"]) for r in rows] == list(
    range(1, len(rows) + 1)
  )
  found = [r for r in rows if os.path.basename(r["path"]) in planted]
  assert len(found) >= 0.6 * len(planted), (len(found), rows)  # recall
  assert len(found) >= 0.7 * len(rows), (len(found), rows)  # precision
  assert {r["split"] for r in found} == {"train", "eval"}
  for row in found:
    truth, given = planted[os.path.basename(row["path"])]
    assert row["given_label"] == given and row["path"].startswith(given + "/")
  assert sum(r["suggested_label"] == planted[os.path.basename(r["path"])][0] for r in found) >= (
    0.8 * len(found)
  )
  # The eval split's probabilities are the trained model's: predictions.csv's, one pass.
  gated = {r["path"]: r for r in _read(first["report/predictions.csv"])}
  for row in rows:
    if row["split"] == "eval":
      expected = float(gated[row["path"]][f"p_{row['given_label']}"])
      assert float(row["self_confidence"]) == pytest.approx(expected, abs=2e-6)
  assert os.path.getsize(first["report/label_issues.png"]) > 10_000
  line = next(x for x in first["stdout"].splitlines() if x.startswith("  label issues: "))
  assert line.startswith(f"  label issues: {len(rows)} likely wrong labels among 600 images (")
  # Run 2 did not look: no label issues, and run 1's files are not left to look like its own.
  assert second["summary"]["label_issues"] is None
  assert "LabelIssues" not in second["summary"]["stages"]
  assert not any(
    os.path.exists(os.path.join(folder, name))
    for folder in (os.path.join(out, "report"), second["summary"]["report_dir"])
    for name in ("label_issues.csv", "label_issues.png")
  )


def _margin(row, classes):
  top, second = sorted((float(row[f"p_{c}"]) for c in classes), reverse=True)[:2]
  return top - second


def test_to_label_is_predictions_csv_least_confident_first_as_a_manifest(two_runs):
  _, _, runs_ = two_runs
  classes = [str(d) for d in range(10)]
  for run, budget in zip(runs_, (0, 20)):
    predictions = _read(run["inference/predictions.csv"])
    order = sorted(predictions, key=lambda r: (_margin(r, classes), r["path"]))
    queue = _read(run["inference/to_label.csv"])
    assert list(queue[0]) == ["path", "label", "margin", "top_probability"]
    expected = order[:budget] if budget else order
    assert [q["path"] for q in queue] == [
      os.path.join(run["infer_dir"], r["path"]) for r in expected
    ]
    assert [q["label"] for q in queue] == [r["predicted_class"] for r in expected]
    for q, r in zip(queue, expected):
      assert float(q["margin"]) == pytest.approx(_margin(r, classes), abs=2e-6)
      assert float(q["top_probability"]) == pytest.approx(float(r["top_probability"]), abs=2e-6)
      assert os.path.isfile(q["path"])
    block = run["summary"]["inference"]
    assert block["to_label_rows"] == len(queue) and block["to_label"].endswith("to_label.csv")


def _shares(path):
  predictions = _read(path)
  counts = {str(d): 0 for d in range(10)}
  for row in predictions:
    counts[row["predicted_class"]] += 1
  mean_top = sum(float(r["top_probability"]) for r in predictions) / len(predictions)
  return [counts[str(d)] / len(predictions) for d in range(10)], mean_top


def test_a_second_inference_run_on_another_class_mix_finds_prediction_drift(two_runs):
  _, _, (first, second) = two_runs
  assert (
    "  prediction drift: nothing to compare with (no earlier inference run in this output "
    in (first["stdout"])
  )
  assert first["summary"]["inference"]["prediction_drift"]["baseline"] is None
  drift = second["summary"]["inference"]["prediction_drift"]
  assert drift["baseline"]["run_id"] == first["summary"]["run_id"]
  p, top_now = _shares(second["inference/predictions.csv"])
  q, top_then = _shares(first["inference/predictions.csv"])
  assert drift["l_infinity"]["distance"] == pytest.approx(
    max(abs(a - b) for a, b in zip(p, q)), abs=1e-4
  )
  # SciPy's Jensen-Shannon distance is the divergence's square root.
  divergence = distance.jensenshannon(p, q, base=2) ** 2
  assert drift["jensen_shannon"]["distance"] == pytest.approx(divergence, abs=1e-4)
  assert drift["mean_top_probability"]["change"] == pytest.approx(top_now - top_then, abs=1e-4)
  assert {"l_infinity", "jensen_shannon"} <= set(drift["drifted"])
  line = next(x for x in second["stdout"].splitlines() if "prediction drift" in x)
  assert line.startswith(f"  prediction drift against run {first['summary']['run_id']}: ")
  card = open(os.path.join(second["summary"]["report_dir"], "model_card.md")).read()
  assert f"Prediction drift against run `{first['summary']['run_id']}`" in card
