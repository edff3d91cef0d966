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
import hashlib
import io
import os
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Tuple

import numpy as np

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


def read_examples(
  examples_uri: str, split: str, limit: Optional[int] = None
) -> Iterator[Tuple[str, bytes, str]]:
  """(file name, encoded image, label) of each example of a split, in the files' order."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel

  from schemas.features import FILE_NAME_KEY, IMAGE_KEY, LABEL_KEY  # pylint: disable=import-outside-toplevel

  files = sorted(tf.io.gfile.glob(os.path.join(examples_uri, f"Split-{split}", "*")))
  records = tf.data.TFRecordDataset(files, compression_type="GZIP")
  for record in records.take(limit) if limit else records:
    feature = tf.train.Example.FromString(record.numpy()).features.feature
    name = feature[FILE_NAME_KEY].bytes_list.value
    yield (
      name[0].decode() if name else "",
      feature[IMAGE_KEY].bytes_list.value[0],
      feature[LABEL_KEY].bytes_list.value[0].decode(),
    )


def load_model(model_dir: str):
  """(input contract, Keras model, class names) the Trainer kept beside the SavedModel."""
  from trainer_module import contract  # pylint: disable=import-outside-toplevel
  from trainer_module.labels import read_class_names  # pylint: disable=import-outside-toplevel

  spec, model = contract.read_contract(model_dir), contract.load_keras_model(model_dir)
  class_names = read_class_names(model_dir)
  if spec is None or model is None or class_names is None:
    raise FileNotFoundError(
      f"{model_dir} has no {filenames.MODEL_CONTRACT} and "
      f"{filenames.MODEL_KERAS} (a model trained before they were kept)"
    )
  return spec, model, class_names


def decode(spec: Dict[str, Any], data: List[bytes]) -> np.ndarray:
  """uint8 pixels [n, h, w, c] of encoded images, as input.json says Transform decodes them."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel

  from trainer_module.preprocessing import decode_images  # pylint: disable=import-outside-toplevel

  return decode_images(tf.constant(data), spec["height"], spec["channels"], spec["resize"]).numpy()


def predict(model, pixels: np.ndarray, batch_size: int = 64) -> np.ndarray:
  """Probabilities [n, classes] of uint8 pixels, cast to float32 a batch at a time; [outputs,
  n, classes] for a model of several outputs."""
  name = model.inputs[0].name
  batches = [
    np.asarray(model({name: pixels[i : i + batch_size].astype(np.float32)}, training=False))
    for i in range(0, len(pixels), batch_size)
  ]
  return np.concatenate(batches, axis=batches[0].ndim - 2)


@functools.lru_cache(maxsize=1)  # the report is written twice (report/ and beside the push)
def score(model_dir: str, examples_uri: str, split: str) -> Scored:
  """Every image of the split through the model, BATCH at a time (and through each member of
  an ensemble)."""
  from trainer_module import ensemble  # pylint: disable=import-outside-toplevel

  spec, model, class_names = load_model(model_dir)
  members = ensemble.with_member_outputs(model)  # the ensemble and its members in one pass
  files, hashes, labels, probabilities = [], [], [], []
  by_member: List[np.ndarray] = []  # [members, batch, classes] a batch
  batch: List[bytes] = []

  def flush():
    if batch:
      pixels = decode(spec, batch)
      if members:
        outputs = predict(members, pixels)
        probabilities.append(outputs[0])
        by_member.append(outputs[1:])
      else:
        probabilities.append(predict(model, pixels))
      batch.clear()

  for name, data, label in read_examples(examples_uri, split):
    files.append(name)
    hashes.append(hashlib.sha256(data).hexdigest())
    labels.append(class_names.index(label) if label in class_names else -1)
    batch.append(data)
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
  """predictions.csv: a header, then a row per image (class names quoted by the csv module)."""
  out = io.StringIO()
  writer = csv.writer(out, lineterminator="\n")
  writer.writerow(list(FIXED_COLUMNS) + [f"p_{name}" for name in scored.class_names])
  predicted = scored.probabilities.argmax(axis=1) if len(scored.files) else []
  for i, path in enumerate(scored.files):
    row = scored.probabilities[i]
    writer.writerow(
      [
        path,
        scored.sha256[i],
        scored.split,
        _name(scored.class_names, int(scored.labels[i])),
        scored.class_names[int(predicted[i])],
        f"{row.max():.6f}",
      ]
      + [f"{p:.6f}" for p in row]
    )
  return out.getvalue()


def for_record(record) -> Optional[Scored]:
  """The run's gated split scored by its model, or None when there is no model to score with
  (the reason is logged; the report goes on)."""
  from absl import logging  # pylint: disable=import-outside-toplevel
  from tfx.utils import path_utils  # pylint: disable=import-outside-toplevel

  if not record.model_path or not record.examples_path:
    return None
  split = record.metrics.get("split", "eval")
  try:
    return score(path_utils.serving_model_path(record.model_path), record.examples_path, split)
  except Exception as e:  # pylint: disable=broad-except
    logging.warning("No per-image predictions: %s", e)
    return None
