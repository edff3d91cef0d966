"""The parity gate every exported file is held to, whatever its format: on the gate split's
images (at most max_gate_images), its top-1 must agree with the SavedModel's serving_default on
at least `min_agreement` of them, and its accuracy may be at most `max_accuracy_drop` below the
SavedModel's (a higher accuracy passes)."""

import hashlib
from typing import Any, Dict, List, NamedTuple, Sequence

import numpy as np

from components import scoring

MIN_AGREEMENT = 0.98  # the bounds every export is held to (TFLiteExport's defaults)
MAX_ACCURACY_DROP = 0.01


class GateImages(NamedTuple):
  """The gate split's images, decoded as input.json says, and the SavedModel's answers."""

  split: str
  pixels: np.ndarray  # uint8 [n, height, width, channels]
  labels: np.ndarray  # class ids (-1: a class the model does not know)
  served: np.ndarray  # serving_default's probabilities [n, classes]

  @property
  def accuracy(self) -> float:
    return round(float(np.mean(self.served.argmax(axis=1) == self.labels)), 4)


def gate_images(
  saved_model_dir: str,
  encoded: Sequence[bytes],
  label_names: Sequence[str],
  spec: Dict[str, Any],
  class_names: Sequence[str],
  split: str,
) -> GateImages:
  """The images every format is compared on, with serving_default's answers on their bytes."""
  index = {name: i for i, name in enumerate(class_names)}
  return GateImages(
    split,
    scoring.decode(list(encoded), spec),
    np.array([index.get(name, -1) for name in label_names]),
    scoring.served_probabilities(saved_model_dir, list(encoded)),
  )


def compare(reference: np.ndarray, candidate: np.ndarray, labels: np.ndarray) -> Dict[str, float]:
  """Top-1 agreement of two models' probabilities, and the candidate's accuracy."""
  top = candidate.argmax(axis=1)
  return {
    "agreement": round(float(np.mean(top == reference.argmax(axis=1))), 4),
    "accuracy": round(float(np.mean(top == labels)), 4),
  }


def figures(gate: GateImages, file: str, content: bytes, probabilities: np.ndarray) -> Dict:
  """One exported file's figures on the gate images: size, hash, agreement, accuracy."""
  found = {
    "file": file,
    "bytes": len(content),
    "sha256": hashlib.sha256(content).hexdigest(),
    **compare(gate.served, probabilities, gate.labels),
  }
  found["accuracy_change"] = round(found["accuracy"] - gate.accuracy, 4)
  return found


def report(gate: GateImages, bounds: Dict[str, float], models: Dict[str, Dict]) -> Dict:
  """A format's parity report: the gate images, the SavedModel's accuracy there, the bounds
  and each of its files' figures (by kind: int8, float16, onnx)."""
  return {
    "split": gate.split,
    "images": len(gate.labels),
    "saved_model": {"accuracy": gate.accuracy},
    "bounds": dict(bounds),
    **models,
  }


def failures(found: Dict[str, Any], kinds: Sequence[str], bounds: Dict[str, float]) -> List[str]:
  """Why each of a report's files (`kinds`) fails parity with the SavedModel (empty: all
  pass)."""
  min_agreement, max_drop = bounds["min_agreement"], bounds["max_accuracy_drop"]
  reasons = []
  reference = found["saved_model"]["accuracy"]
  for kind in kinds:
    model = found[kind]
    if model["agreement"] < min_agreement:
      reasons.append(
        f"{kind}: top-1 agrees with the SavedModel on {model['agreement']:.1%} "
        f"of {found['images']} {found['split']} images (needs {min_agreement:.0%})"
      )
    if model["accuracy"] < reference - max_drop - 1e-9:
      reasons.append(
        f"{kind}: accuracy {model['accuracy']:.4f} is "
        f"{100 * (reference - model['accuracy']):.1f} points below the SavedModel's "
        f"{reference:.4f} (at most {100 * max_drop:g})"
      )
  return reasons
