"""Likely label errors (--find-label-issues): cleanlab's confident learning on out-of-sample
probabilities of every labelled image, as label_issues.csv and label_issues.png in the report
and run_summary.json's `label_issues`.

Out of sample: the train split's probabilities are LabelIssues' (trainer_module/out_of_fold.py:
each image scored by a model trained on the other folds); the held-out splits' (eval, test) are
the trained model's, from the report's one pass of the gated split (reporting/predictions.py)
and one of the other held-out split. cleanlab.filter.find_label_issues(labels, pred_probs) runs
once over them all (its per-class thresholds estimated from every labelled image) and ranks
what it finds by self-confidence (the probability of the given label), least first.

FILTER: confident learning estimates how many labels of each class are wrong (the confident
joint's off-diagonal counts) and lists that many images per class, those whose given label is
least probable. cleanlab's default (prune_by_noise_rate) picks them by margin instead; on this
pipeline's out-of-fold probabilities of Fashion-MNIST with 5 % of the labels flipped it listed
more of the model's own confusions (BENCHMARKS.md, "Likely label errors": precision 0.39 and
recall 0.84 against 0.54 and 0.93 on the same probabilities).

label_issues.csv: path (as ingested, below the data dir), split, given_label, suggested_label
(the most probable class), self_confidence, rank (1: the likeliest error).
"""

import csv
import io
import json
import os
from typing import Any, Dict, List, NamedTuple, Optional

import numpy as np

from reporting import escape, explanations, predictions
from schemas import filenames
from schemas.run_record import LabelIssues

COLUMNS = ("path", "split", "given_label", "suggested_label", "self_confidence", "rank")
FILTER = "low_self_confidence"  # cleanlab's filter_by: see above
GALLERY = 24  # the first issues label_issues.png shows
TOP = 10  # the first issues the summary and the model card list


class Labelled(NamedTuple):
  """Labelled images and their out-of-sample probabilities [n, classes]."""

  files: List[str]
  splits: List[str]
  labels: np.ndarray  # class ids; -1: a class the model does not know
  probabilities: np.ndarray
  class_names: List[str]


class Issue(NamedTuple):
  path: str
  split: str
  given_label: str
  suggested_label: str
  self_confidence: float
  rank: int


class Found(NamedTuple):
  """The issues, ranked, and the first GALLERY of them as pixels."""

  issues: List[Issue]
  labelled: Labelled
  pixels: np.ndarray


def out_of_fold(model_run_uri: str) -> Dict[str, Any]:
  """LabelIssues' folds.json (folds, images, accuracy, class_names, per_fold, seconds)."""
  import tensorflow as tf  # noqa: PLC0415  (gs:// model runs; only with --find-label-issues)

  with tf.io.gfile.GFile(os.path.join(model_run_uri, filenames.FOLDS_REPORT)) as f:
    return json.load(f)


def train_split(model_run_uri: str) -> Labelled:
  """The train split's out-of-fold probabilities (LabelIssues' out_of_fold.npz)."""
  import tensorflow as tf  # noqa: PLC0415  (gs:// model runs; only with --find-label-issues)

  with tf.io.gfile.GFile(os.path.join(model_run_uri, filenames.OUT_OF_FOLD), "rb") as f:
    data = np.load(io.BytesIO(f.read()))
  files = data["path"].tolist()
  return Labelled(
    files,
    ["train"] * len(files),
    data["label"],
    data["probabilities"],
    out_of_fold(model_run_uri)["class_names"],
  )


def held_out(scored: predictions.Scored) -> Labelled:
  """A held-out split scored by the trained model (reporting/predictions.py)."""
  return Labelled(
    scored.files,
    [scored.split] * len(scored.files),
    scored.labels,
    scored.probabilities,
    scored.class_names,
  )


def combine(parts: List[Labelled]) -> Labelled:
  """The parts as one; their classes must be the same, in the same order."""
  names = parts[0].class_names
  for part in parts[1:]:
    if part.class_names != names:
      raise ValueError(
        f"the out-of-fold models' classes ({', '.join(names)}) are not the trained model's "
        f"({', '.join(part.class_names)})"
      )
  return Labelled(
    [f for p in parts for f in p.files],
    [s for p in parts for s in p.splits],
    np.concatenate([p.labels for p in parts]),
    np.concatenate([p.probabilities for p in parts]),
    names,
  )


def find(labelled: Labelled) -> List[Issue]:
  """cleanlab's label issues among the images of a known class, the likeliest first."""
  from cleanlab.filter import find_label_issues  # noqa: PLC0415  (only with --find-label-issues)

  known = np.flatnonzero(labelled.labels >= 0)
  labels, probabilities = labelled.labels[known], labelled.probabilities[known]
  if not len(known):
    return []
  # n_jobs=1: no worker processes forked from a process that runs TensorFlow.
  ranked = find_label_issues(
    labels,
    probabilities,
    filter_by=FILTER,
    return_indices_ranked_by="self_confidence",
    n_jobs=1,
  )
  names = labelled.class_names
  return [
    Issue(
      labelled.files[known[i]],
      labelled.splits[known[i]],
      names[int(labels[i])],
      names[int(probabilities[i].argmax())],
      float(probabilities[i, labels[i]]),
      rank,
    )
    for rank, i in enumerate(ranked, 1)
  ]


def csv_text(issues: List[Issue]) -> str:
  """label_issues.csv: a header, then a row per issue, the likeliest first (text a spreadsheet
  would run as a formula neutralised: escape.csv_cell)."""
  out = io.StringIO()
  writer = csv.writer(out, lineterminator="\n")
  writer.writerow(COLUMNS)
  for issue in issues:
    writer.writerow(
      escape.csv_row(issue[:4]) + [f"{issue.self_confidence:.6f}", issue.rank],
    )
  return out.getvalue()


def _pixels(examples_uri: str, issues: List[Issue], spec: Dict[str, Any]) -> np.ndarray:
  """The images of `issues`, in their order, decoded as the model's input.json says."""
  from components import scoring  # noqa: PLC0415  (TensorFlow: only when a report is written)
  from components.image_example_gen import records  # noqa: PLC0415  (as above)

  wanted: Dict[str, Dict[str, bytes]] = {}
  for issue in issues:
    wanted.setdefault(issue.split, {})[issue.path] = b""
  for split, found in wanted.items():
    missing = len(found)
    for record in records.read(examples_uri, split):
      if record.file_name in found:
        found[record.file_name] = record.image
        missing -= 1
        if not missing:
          break
  return scoring.decode([wanted[i.split][i.path] for i in issues], spec)


def plot_gallery(found: Found, path: Optional[str] = None):
  """label_issues.png: the first GALLERY issues, each under its file name, given label (with
  its probability) and suggested label."""
  shown = found.issues[: len(found.pixels)]
  total = len(found.labelled.files)
  return explanations.gallery(
    found.pixels,
    [
      f"{explanations.caption([i.path], 0)}given {escape.plot(i.given_label)} "
      f"({i.self_confidence:.2g})\nsuggested {escape.plot(i.suggested_label)}"
      for i in shown
    ],
    f"Likely label errors: the first {len(shown)} of {len(found.issues)} among {total} "
    "labelled images (out-of-sample probabilities)"
    if found.issues
    else f"No likely label errors among {total} labelled images",
    path,
  )


def block(found: Found, folds: Dict[str, Any], model_run_uri: str) -> LabelIssues:
  """run_summary.json's `label_issues`."""
  splits = found.labelled.splits
  order = list(dict.fromkeys(splits))  # train, then the held-out splits
  found_in = [issue.split for issue in found.issues]
  return LabelIssues(
    out_of_fold=model_run_uri,
    folds=folds["folds"],
    out_of_fold_accuracy=folds.get("accuracy"),
    images={split: splits.count(split) for split in order},
    issues=len(found.issues),
    by_split={split: found_in.count(split) for split in order if split in found_in},
    file=filenames.LABEL_ISSUES_CSV,
    gallery=filenames.LABEL_ISSUES_GALLERY,
    top=[issue._asdict() for issue in found.issues[:TOP]],
  )


def for_record(record, scored: Optional[predictions.Scored]) -> Optional[Found]:
  """The run's label issues (record.label_issues filled in), or None without LabelIssues'
  output or a model to score the held-out splits with (the reason in record.label_issues)."""
  from absl import logging  # noqa: PLC0415  (with TFX's logging, when used)

  from components import scoring  # noqa: PLC0415  (TensorFlow: only when a report is written)

  summary = record.label_issues
  if summary is None or not summary.out_of_fold:
    return None
  if scored is None:
    summary.error = "no trained model to score the held-out splits with"
    return None
  try:
    folds = out_of_fold(summary.out_of_fold)
    parts = [train_split(summary.out_of_fold), held_out(scored)]
    model_dir = predictions.model_dir(record)
    for split in record.splits:
      if split not in ("train", scored.split):
        parts.append(held_out(predictions.score(model_dir, record.examples_path, split)))
    labelled = combine(parts)
    issues = find(labelled)
    spec = scoring.load_keras(model_dir).spec
    found = Found(issues, labelled, _pixels(record.examples_path, issues[:GALLERY], spec))
  except Exception as e:  # noqa: BLE001  (logged and recorded; the report goes on)
    logging.warning("No label issues: %s", e)
    summary.error = f"{type(e).__name__}: {e}"
    return None
  record.label_issues = block(found, folds, summary.out_of_fold)
  return found


def _unknown(summary: Optional[LabelIssues]) -> bool:
  """Nothing to say: no LabelIssues in the run, or its issues not looked for here (e.g. by
  `python -m pipeline.report`, which scores no images)."""
  return summary is None or (summary.issues is None and not summary.error)


def console_line(summary: Optional[LabelIssues]) -> Optional[str]:
  """'label issues: 7 likely wrong labels among 1437 images (train 5, eval 2), the likeliest
  3/digit_0012.png (given 3, suggested 8); every one in label_issues.csv', or why none were
  looked for; None when there is nothing to say."""
  if _unknown(summary):
    return None
  if summary.issues is None:
    return f"label issues: not looked for: {summary.error}"
  split_counts = ", ".join(f"{split} {n}" for split, n in summary.by_split.items())
  first = summary.top[:1]
  return (
    f"label issues: {summary.issues} likely wrong labels among {sum(summary.images.values())} "
    "images"
    + (f" ({split_counts})" if split_counts else "")
    + (
      f", the likeliest {escape.one_line(first[0]['path'])} (given "
      f"{escape.one_line(first[0]['given_label'])}, suggested "
      f"{escape.one_line(first[0]['suggested_label'])})"
      if first
      else ""
    )
    + f"; every one in {summary.file}"
  )


def card_lines(summary: Optional[LabelIssues]) -> List[str]:
  """The model card's section: how they were found, the first TOP of them, the files."""
  if _unknown(summary):
    return []
  lines = ["", "### Likely label errors", ""]
  if summary.issues is None:
    return lines + [f"Not looked for: {escape.markdown(summary.error)}.", ""]
  images = ", ".join(f"{split} {n}" for split, n in summary.images.items())
  lines.append(
    f"{summary.issues} of {sum(summary.images.values())} labelled images ({images}) are "
    "likely labelled wrong (cleanlab's confident learning on out-of-sample probabilities: "
    f"the train split's from {summary.folds} models, each trained on the other folds"
    + (
      f", out-of-fold accuracy {summary.out_of_fold_accuracy:.4f}"
      if summary.out_of_fold_accuracy is not None
      else ""
    )
    + "; the held-out splits' from the trained model). Every one is in "
    f"[{summary.file}]({summary.file}), the likeliest first; the first {GALLERY} are in "
    f"{summary.gallery}."
  )
  if summary.top:
    lines += [
      "",
      "| rank | path | split | given | suggested | probability of the given label |",
      "|---:|---|---|---|---|---:|",
    ] + [
      f"| {i['rank']} | {escape.markdown(i['path'])} | {i['split']} | "
      f"{escape.markdown(i['given_label'])} | {escape.markdown(i['suggested_label'])} | "
      f"{i['self_confidence']:.2g} |"
      for i in summary.top
    ]
  return lines + [""]
