"""DriftCheck's executor: TFX's DistributionValidator, then a report people can read."""

import json
import os
from typing import Any, Dict, List, Optional

from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.components.distribution_validator import executor as distribution_validator
from tfx.dsl.io import fileio
from tfx.proto import distribution_validator_pb2
from tfx.types import artifact_utils
from tfx.types import standard_component_specs as spec
from tfx.utils import io_utils, proto_utils

from schemas import filenames
from schemas.settings import DRIFT_ACTIONS

ACTIONS = DRIFT_ACTIONS
ON_DRIFT_KEY = "on_drift"
SPLIT_PAIR = "train_train"
_MEASURES = {
  anomalies_pb2.DriftSkewInfo.Measurement.L_INFTY: "L-infinity distance",
  anomalies_pb2.DriftSkewInfo.Measurement.JENSEN_SHANNON_DIVERGENCE: "Jensen-Shannon divergence",
}


class DriftBlocked(RuntimeError):
  """The data drifted and on_drift is block: the run stops before training."""

  def __init__(self, message: str, report: Dict[str, Any]):
    super().__init__(message)
    self.report = report


def _span(artifact) -> Optional[int]:
  return artifact.span if artifact is not None and artifact.has_property("span") else None


def features(anomalies: anomalies_pb2.Anomalies) -> List[Dict[str, Any]]:
  """Each compared feature: its measure, distance, threshold and whether it drifted."""
  drifted = set(anomalies.anomaly_info)
  found = []
  for info in anomalies.drift_skew_info:
    name = ".".join(info.path.step)
    for measurement in info.drift_measurements:
      found.append(
        {
          "feature": name,
          "measure": _MEASURES.get(measurement.type, str(measurement.type)),
          "distance": round(measurement.value, 4),
          "threshold": measurement.threshold,
          "drifted": name in drifted and measurement.value > measurement.threshold,
        }
      )
  # A configured feature that could not be compared (e.g. missing from one side) drifted.
  compared = {f["feature"] for f in found}
  for name in sorted(drifted - compared):
    found.append(
      {"feature": name, "measure": "not comparable", "distance": None, "threshold": None}
    )
    found[-1]["drifted"] = True
  return sorted(found, key=lambda f: f["feature"])


def drift_lines(report: Dict[str, Any]) -> List[str]:
  """One line per drifted feature, e.g. 'label: L-infinity distance 0.1712 > 0.1'."""
  return [
    f"{f['feature']}: {f['measure']} {f['distance']:.4f} > {f['threshold']:g}"
    if f["distance"] is not None
    else f"{f['feature']}: could not be compared with the previous data"
    for f in report.get("features", [])
    if f["drifted"]
  ]


def read_report(anomalies_uri: str) -> Dict[str, Any]:
  path = os.path.join(anomalies_uri, filenames.DRIFT_REPORT)
  if not fileio.exists(path):
    return {}
  return json.loads(io_utils.read_string_file(path))


class Executor(distribution_validator.Executor):
  """TFX's DistributionValidator; then drift.json, a console line per drifted feature, and with
  on_drift=block a DriftBlocked when anything drifted."""

  def Do(self, input_dict, output_dict, exec_properties):
    on_drift = exec_properties.get(ON_DRIFT_KEY, "warn")
    if on_drift not in ACTIONS:
      raise ValueError(f"on_drift must be one of {', '.join(ACTIONS)}, got {on_drift!r}")
    baseline = (input_dict.get(spec.BASELINE_STATISTICS_KEY) or [None])[0]
    properties = {k: v for k, v in exec_properties.items() if k != ON_DRIFT_KEY}
    config = properties.get(spec.DISTRIBUTION_VALIDATOR_CONFIG_KEY)
    if isinstance(config, str):  # Kubeflow V2's entrypoint passes proto parameters as JSON,
      # which TFX's DistributionValidator executor would use as they are (and fail).
      properties[spec.DISTRIBUTION_VALIDATOR_CONFIG_KEY] = proto_utils.json_to_proto(
        config, distribution_validator_pb2.DistributionValidatorConfig()
      )
    result = super().Do(
      {**input_dict, spec.BASELINE_STATISTICS_KEY: [baseline] if baseline else []},
      output_dict,
      properties,
    )
    statistics = artifact_utils.get_single_instance(input_dict[spec.STATISTICS_KEY])
    anomalies = artifact_utils.get_single_instance(output_dict[spec.ANOMALIES_KEY])
    report = {
      "on_drift": on_drift,
      "span": _span(statistics),
      "statistics": statistics.uri,
      "baseline": {"statistics": baseline.uri, "span": _span(baseline)} if baseline else None,
      "split": "train",
      "features": [],
    }
    path = os.path.join(anomalies.uri, f"SplitPair-{SPLIT_PAIR}", "SchemaDiff.pb")
    if baseline and fileio.exists(path):
      report["features"] = features(
        anomalies_pb2.Anomalies.FromString(io_utils.read_bytes_file(path))
      )
    report["drifted"] = [f["feature"] for f in report["features"] if f["drifted"]]
    io_utils.write_string_file(
      os.path.join(anomalies.uri, filenames.DRIFT_REPORT), json.dumps(report, indent=1)
    )
    print(format_report(report), flush=True)
    if on_drift == "block" and report["drifted"]:
      raise DriftBlocked(blocked_message(report), report)
    return result


def _against(report: Dict[str, Any]) -> str:
  baseline = report.get("baseline") or {}
  span = baseline.get("span")
  return "the previous run's data" + (f" (span {span})" if span is not None else "")


def format_report(report: Dict[str, Any]) -> str:
  """DriftCheck's console lines."""
  if not report.get("baseline"):
    return "[DriftCheck] no earlier statistics to compare with (first run)"
  lines = drift_lines(report)
  if not lines:
    return f"[DriftCheck] no drift against {_against(report)}: " + ", ".join(
      f"{f['feature']} {f['distance']:.4f}" for f in report["features"]
    )
  return "\n".join(f"[DriftCheck] drift against {_against(report)}: {line}" for line in lines)


def blocked_message(report: Dict[str, Any]) -> str:
  return f"data drift against {_against(report)} (--on-drift block): " + "; ".join(
    drift_lines(report)
  )
