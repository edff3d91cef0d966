"""Per-image predictions of the gated split: which images the model gets wrong, by file.

Every image of the split ImageExampleGen wrote goes through the Trainer's Keras model
(assets.extra/model.keras, the served model's own weights), decoded as its input.json says
(what Transform does), as the Grad-CAM pages do. The rows become predictions.csv beside the
report; the summary keeps their count and the most confident mistakes.

Columns: path (as ImageExampleGen recorded it, below the data dir), sha256 (of the image bytes
ingested), split, true_class, predicted_class, top_probability, then p_<class> for every class
in class-id order.
"""

import csv
import functools
import io
from typing import Any, Dict, List, NamedTuple, Optional

import numpy as np

from reporting import escape
from schemas import filenames

MISTAKES = 10  # the most confident mistakes the summary and the model card list
BATCH = 256
FIXED_COLUMNS = ("path", "sha256", "split", "true_class", "predicted_class", "top_probability")


class Scored(NamedTuple):
  """A split's images as the model saw them: file names, hashes, true class ids (-1: a class
  the model does not know), probabilities [n, classes], and the model's class names."""

  files: List[str]
  sha256: List[str]
  labels: np.ndarray
  probabilities: np.ndarray
  class_names: List[str]
  split: str
  # An ensemble's (trainer_module/ensemble.py): each member's probabilities [members, n, classes].
  members: Optional[np.ndarray] = None


@functools.lru_cache(maxsize=1)  # the report is written twice (report/ and beside the push)
def score(model_dir: str, examples_uri: str, split: str) -> Scored:
  """Every image of the split through the model, BATCH at a time (and through each member of
  an ensemble)."""
  from components import scoring  # noqa: PLC0415  (TensorFlow: only when a report is written)
  from components.image_example_gen import records  # noqa: PLC0415  (as above)
  from trainer_module import ensemble  # noqa: PLC0415  (as above)

  spec, model, class_names = scoring.load_keras(model_dir)
  members = ensemble.with_member_outputs(model)  # the ensemble and its members in one pass
  files, hashes, labels, probabilities = [], [], [], []
  by_member: List[np.ndarray] = []  # [members, batch, classes] a batch
  batch: List[bytes] = []

  def flush():
    if batch:
      pixels = scoring.decode(batch, spec)
      if members:
        outputs = scoring.keras_probabilities(members, pixels)
        probabilities.append(outputs[0])
        by_member.append(outputs[1:])
      else:
        probabilities.append(scoring.keras_probabilities(model, pixels))
      batch.clear()

  for record in records.read(examples_uri, split):
    files.append(record.file_name)
    hashes.append(record.sha256)
    labels.append(class_names.index(record.label) if record.label in class_names else -1)
    batch.append(record.image)
    if len(batch) == BATCH:
      flush()
  flush()
  return Scored(
    files,
    hashes,
    np.array(labels, dtype=np.int64),
    np.concatenate(probabilities) if probabilities else np.zeros((0, len(class_names))),
    class_names,
    split,
    np.concatenate(by_member, axis=1) if by_member else None,
  )


def _name(class_names: List[str], class_id: int) -> str:
  return class_names[class_id] if 0 <= class_id < len(class_names) else ""


def most_confident_mistakes(scored: Scored, count: int = MISTAKES) -> List[Dict[str, Any]]:
  """The `count` wrong answers with the highest top probability, most confident first."""
  predicted = scored.probabilities.argmax(axis=1)
  confidence = scored.probabilities.max(axis=1)
  wrong = np.flatnonzero(predicted != scored.labels)
  return [
    {
      "path": scored.files[i],
      "true_class": _name(scored.class_names, int(scored.labels[i])),
      "predicted_class": scored.class_names[int(predicted[i])],
      "probability": round(float(confidence[i]), 4),
    }
    for i in wrong[np.argsort(-confidence[wrong], kind="stable")][:count]
  ]


def member_accuracies(scored: Scored) -> List[float]:
  """Each ensemble member's top-1 accuracy on the scored images ([] for a single model)."""
  if scored.members is None:
    return []
  return [round(float(np.mean(p.argmax(axis=1) == scored.labels)), 4) for p in scored.members]


def summary_block(scored: Scored) -> Dict[str, Any]:
  """run_summary.json's `predictions`: the file, its rows and mistakes, the worst of them."""
  wrong = int(np.sum(scored.probabilities.argmax(axis=1) != scored.labels))
  return {
    "file": filenames.PREDICTIONS_CSV,
    "split": scored.split,
    "images": len(scored.files),
    "mistakes": wrong,
    "most_confident_mistakes": most_confident_mistakes(scored),
  }


def csv_text(scored: Scored) -> str:
  """predictions.csv: a header, then a row per image (class names quoted by the csv module;
  text that a spreadsheet would run as a formula neutralised: escape.csv_cell)."""
  out = io.StringIO()
  writer = csv.writer(out, lineterminator="\n")
  writer.writerow(escape.csv_row([*FIXED_COLUMNS, *(f"p_{name}" for name in scored.class_names)]))
  predicted = scored.probabilities.argmax(axis=1) if len(scored.files) else []
  for i, path in enumerate(scored.files):
    row = scored.probabilities[i]
    text = [
      path,
      scored.sha256[i],
      scored.split,
      _name(scored.class_names, int(scored.labels[i])),
      scored.class_names[int(predicted[i])],
    ]
    writer.writerow(escape.csv_row(text) + [f"{row.max():.6f}"] + [f"{p:.6f}" for p in row])
  return out.getvalue()


def model_dir(record) -> str:
  """The run's trained SavedModel (its Keras model beside it)."""
  from tfx.utils import path_utils  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)

  return path_utils.serving_model_path(record.model_path)


def for_record(record) -> Optional[Scored]:
  """The run's gated split scored by its model, or None when there is no model to score with
  (the reason is logged; the report goes on)."""
  from absl import logging  # noqa: PLC0415  (with TFX's logging, when used)

  if not record.model_path or not record.examples_path:
    return None
  split = record.metrics.get("split", "eval")
  try:
    return score(model_dir(record), record.examples_path, split)
  except Exception as e:  # noqa: BLE001  (logged; the report goes on without the pages)
    logging.warning("No per-image predictions: %s", e)
    return None
