"""The ingest report's verdict and summary, on report dicts (the executor tests build real ones)."""

from components.image_example_gen import report


def _split(written_by_class, rejected=()):
  classes = {c: {"found": n, "written": n, "rejected": {}} for c, n in written_by_class.items()}
  for cls, reason in rejected:
    entry = classes.setdefault(cls, {"found": 0, "written": 0, "rejected": {}})
    entry["found"] += 1
    entry["rejected"][reason] = entry["rejected"].get(reason, 0) + 1
  return {"written": sum(written_by_class.values()), "classes": classes}


def test_data_that_can_train_has_no_problem_and_what_cannot_is_named():
  good = {
    "splits": {"train": _split({"a": 8, "b": 8}), "eval": _split({"a": 2, "b": 2})},
    "rejected_files": [],
  }
  assert report.training_data_problem(good, ["a", "b"]) is None

  bad = {
    "splits": {"train": _split({"a": 8}, [("b", "not_an_image")] * 3), "eval": _split({"a": 2})},
    "rejected_files": [{"class": "b", "reason": "not_an_image"}] * 3,
  }
  assert report.training_data_problem(bad, ["a", "b", "c"]) == (
    "cannot train: no training image for class(es) b (3 files: 3 not_an_image), c (no files)"
  )


def test_an_eval_split_without_a_class_of_train_is_named():
  splits = {"train": _split({"a": 8, "b": 8}), "eval": _split({"a": 2})}
  problem = report.training_data_problem({"splits": splits, "rejected_files": []}, ["a", "b"])
  assert problem == "cannot train: eval lacks class(es) b that train has: they cannot be evaluated"
