"""Evaluator executor: the served model as TFX's baseline, when it can be compared."""

import json
import os
from typing import Any, Dict, Optional, Tuple

from absl import logging
from tfx.components.evaluator import executor as evaluator_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_artifacts
from tfx.types import standard_component_specs as spec
from tfx.utils import io_utils, path_utils

from schemas import filenames, properties
from trainer_module.labels import classes_mismatch, read_class_names

SERVED_MODEL_KEY = "served_model"  # component.py's input: ServingPusher's newest push


def read_comparison(evaluation_uri: str) -> Dict[str, Any]:
  """{"baseline": uri or None, "compared": bool, "reason": str, "version": served version}."""
  path = os.path.join(evaluation_uri, filenames.BASELINE_COMPARISON)
  if not fileio.exists(path):  # an evaluation made before this file existed
    return {}
  return json.loads(io_utils.read_string_file(path))


def served_baseline(candidate, pushed, tmp_dir: str) -> Tuple[Optional[Any], Dict[str, Any]]:
  """(the Model to compare with or None, the comparison's record) for a candidate Model and
  the served PushedModel (None: nothing served yet); `tmp_dir` holds a Model-shaped view of an
  older push's copy."""
  if pushed is None:
    return None, {"baseline": None, "compared": False, "reason": "no model served yet"}
  model_uri = pushed.get_string_custom_property(properties.MODEL_URI)
  version = pushed.get_string_custom_property(properties.PUSHED_VERSION) or None
  comparison = {
    "baseline": model_uri or pushed.uri,
    "version": version,
    "model_uri": model_uri,
    "run_id": pushed.get_string_custom_property(properties.RUN_ID) or None,  # that pushed it
  }
  if model_uri == candidate.uri:
    reason = f"the candidate is the served model (version {version}): not compared with itself"
    return None, {**comparison, "compared": False, "reason": reason}
  baseline = standard_artifacts.Model()
  baseline.id = pushed.id  # the blessing records the baseline by id (a name on Kubeflow)
  # A push by an older ServingPusher names no model: its own copy of the model is compared.
  baseline.uri = model_uri or pushed.uri
  baseline_dir = path_utils.serving_model_path(baseline.uri) if model_uri else pushed.uri
  reason = classes_mismatch(
    read_class_names(path_utils.serving_model_path(candidate.uri)), read_class_names(baseline_dir)
  )
  if reason:
    return None, {**comparison, "compared": False, "reason": reason}
  if not model_uri:
    baseline.uri = _as_model_dir(pushed.uri, tmp_dir)
  return baseline, {**comparison, "compared": True, "reason": ""}


def _as_model_dir(pushed_uri: str, tmp_dir: str) -> str:
  """A Model-shaped folder (<folder>/Format-Serving) in tmp_dir for a pushed copy, which holds
  the SavedModel at its top."""
  parent = os.path.join(tmp_dir, "served_model")
  serving = path_utils.serving_model_dir(parent)
  if "://" in pushed_uri or "://" in tmp_dir:
    io_utils.copy_dir(pushed_uri, serving)
  else:
    os.makedirs(parent, exist_ok=True)
    os.symlink(os.path.abspath(pushed_uri), serving)
  return parent


class Executor(evaluator_executor.Executor):
  """TFX's Evaluator with the served model as its baseline; what was compared is recorded."""

  def Do(self, input_dict, output_dict, exec_properties) -> None:
    candidate = artifact_utils.get_single_instance(input_dict[spec.MODEL_KEY])
    served = input_dict.get(SERVED_MODEL_KEY) or [None]
    baseline, comparison = served_baseline(candidate, served[0], self._get_tmp_dir())
    if comparison["reason"]:
      logging.info("Baseline comparison skipped: %s", comparison["reason"])
    input_dict = {k: v for k, v in input_dict.items() if k != SERVED_MODEL_KEY}
    if baseline is not None:
      input_dict[spec.BASELINE_MODEL_KEY] = [baseline]
    super().Do(input_dict, output_dict, exec_properties)
    evaluation = artifact_utils.get_single_instance(output_dict[spec.EVALUATION_KEY])
    io_utils.write_string_file(
      os.path.join(evaluation.uri, filenames.BASELINE_COMPARISON), json.dumps(comparison, indent=2)
    )
