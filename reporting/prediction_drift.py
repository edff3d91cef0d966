"""Drift in what the model predicts (--infer-dir): this run's predicted-class distribution and
mean top probability against those of the previous inference run in the same output dir.

The previous run's figures come from its own record, <output-dir>/runs/<run id>.json: the
newest record other than this run's whose `inference` scored images. Every run leaves its
record there however it ends, with the figures it computed (no PredictionLogs read again: an
earlier run's may be gone, and MLMD would give its InferenceResult but not whether that run's
model was pushed); a run whose model was not pushed scored nothing and is passed over. Measured
as DriftCheck measures the data: the L-infinity distance between the two predicted-class
distributions (the class whose share moved most), their Jensen-Shannon divergence (base 2,
from 0 to 1), and the change of the mean top probability, each against its threshold (0:
not checked). Pure Python: the settings check imports it before anything heavy.
"""

import dataclasses
import json
import math
import os
from typing import Any, Dict, List, Optional, Tuple

from reporting import escape
from schemas import filenames

NOTHING_TO_COMPARE = "no earlier inference run in this output dir"


@dataclasses.dataclass(frozen=True)
class PredictionDriftThresholds:
  """The bounds (0: not checked): --prediction-drift-threshold, --prediction-js-threshold,
  --confidence-drift-threshold."""

  l_infinity: float = 0.1
  jensen_shannon: float = 0.1
  mean_top_probability: float = 0.05


def shares(counts: Dict[str, int], classes: List[str]) -> List[float]:
  """Each class's share of the predictions (0 for a class not in `counts`)."""
  total = sum(counts.values())
  return [counts.get(c, 0) / total if total else 0.0 for c in classes]


def l_infinity(p: List[float], q: List[float]) -> Tuple[float, int]:
  """(the largest absolute difference of two distributions, its index)."""
  differences = [abs(a - b) for a, b in zip(p, q)]
  index = max(range(len(differences)), key=differences.__getitem__)
  return differences[index], index


def jensen_shannon(p: List[float], q: List[float]) -> float:
  """Jensen-Shannon divergence in bits (0: the same distribution, 1: disjoint)."""

  def kl(a: List[float], m: List[float]) -> float:
    return sum(x * math.log2(x / y) for x, y in zip(a, m) if x > 0)

  m = [(a + b) / 2 for a, b in zip(p, q)]
  return max(0.0, 0.5 * kl(p, m) + 0.5 * kl(q, m))


def previous_run(output_dir: str, run_id: str) -> Optional[Dict[str, Any]]:
  """The newest record under <output_dir>/runs/ other than `run_id`'s whose inference scored
  images (by finished_at, then name), or None."""
  folder = os.path.join(output_dir, filenames.RUNS_DIR)
  if "://" in folder:
    import tensorflow as tf  # noqa: PLC0415  (gs:// and other remote file systems)

    listdir, exists, open_file = tf.io.gfile.listdir, tf.io.gfile.isdir, tf.io.gfile.GFile
  else:
    listdir, exists, open_file = os.listdir, os.path.isdir, open
  found = []
  for name in sorted(listdir(folder)) if exists(folder) else []:
    if not name.endswith(".json"):
      continue
    try:
      with open_file(os.path.join(folder, name)) as f:
        record = json.load(f)
    except (OSError, ValueError):
      continue  # a record being written or damaged: not one to compare with
    block = record.get("inference") or {}
    if (
      record.get("run_id") != run_id
      and block.get("status") == "scored"
      and block.get("predicted_classes")
    ):
      found.append((record.get("finished_at") or "", name, record))
  return max(found, key=lambda item: item[:2])[2] if found else None


def _check(distance: float, threshold: float) -> Dict[str, Any]:
  return {
    "distance": round(distance, 4),
    "threshold": threshold,
    "drifted": bool(threshold) and distance > threshold,
  }


def compare(
  block: Dict[str, Any], previous: Optional[Dict[str, Any]], thresholds: PredictionDriftThresholds
) -> Dict[str, Any]:
  """inference.prediction_drift: this run's inference block (with predicted_classes and
  mean_top_probability) against the previous run's record."""
  if previous is None:
    return {"baseline": None, "reason": NOTHING_TO_COMPARE, "drifted": []}
  before = previous["inference"]
  now, then = block["predicted_classes"], before["predicted_classes"]
  classes = list(now) + [c for c in then if c not in now]
  p, q = shares(now, classes), shares(then, classes)
  distance, index = l_infinity(p, q)
  change = block["mean_top_probability"] - before["mean_top_probability"]
  result = {
    "baseline": {
      "run_id": previous.get("run_id"),
      "finished_at": previous.get("finished_at"),
      "images_scored": before.get("images_scored"),
    },
    "reason": None,
    "l_infinity": {
      **_check(distance, thresholds.l_infinity),
      "class": classes[index],
      "share": round(p[index], 4),
      "previous_share": round(q[index], 4),
    },
    "jensen_shannon": _check(jensen_shannon(p, q), thresholds.jensen_shannon),
    "mean_top_probability": {
      **_check(abs(change), thresholds.mean_top_probability),
      "current": block["mean_top_probability"],
      "previous": before["mean_top_probability"],
      "change": round(change, 4),
    },
  }
  result["drifted"] = [
    name
    for name in ("l_infinity", "jensen_shannon", "mean_top_probability")
    if result[name]["drifted"]
  ]
  return result


def _versus(check: Dict[str, Any]) -> str:
  if not check["threshold"]:
    return "not checked"
  return f"{'>' if check['drifted'] else '<='} {check['threshold']:g}"


def console_line(drift: Dict[str, Any]) -> str:
  """'prediction drift: nothing to compare with (...)', 'prediction drift: none against run X
  (...)' or 'prediction drift against run X: ...', with every measure and its bound."""
  if not drift.get("baseline"):
    return f"prediction drift: nothing to compare with ({drift.get('reason')})"
  linf, js, top = drift["l_infinity"], drift["jensen_shannon"], drift["mean_top_probability"]
  figures = (
    f"predicted classes: L-infinity {linf['distance']:.4f} {_versus(linf)} (class "
    f"{escape.one_line(linf['class'])} {linf['share']:.2f}, was {linf['previous_share']:.2f}), "
    f"Jensen-Shannon {js['distance']:.4f} {_versus(js)}; mean top probability "
    f"{top['current']:.4f}, was {top['previous']:.4f} (change {top['change']:+.4f}, "
    f"{_versus(top)})"
  )
  run = escape.one_line(drift["baseline"]["run_id"])
  if drift["drifted"]:
    return f"prediction drift against run {run}: {figures}"
  return f"prediction drift: none against run {run}: {figures}"
