"""Evaluator executor: drops a baseline whose classes differ before TFMA runs."""

import json
import os
from typing import Any, Dict

from absl import logging
from tfx.components.evaluator import executor as evaluator_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils
from tfx.types import standard_component_specs as spec
from tfx.utils import io_utils, path_utils

from trainer_module.labels import classes_mismatch, read_class_names

COMPARISON_FILE = "baseline_comparison.json"


def read_comparison(evaluation_uri: str) -> Dict[str, Any]:
  """{"baseline": uri or None, "compared": bool, "reason": str} of an evaluation."""
  path = os.path.join(evaluation_uri, COMPARISON_FILE)
  if not fileio.exists(path):  # an evaluation made before this file existed
    return {}
  return json.loads(io_utils.read_string_file(path))


class Executor(evaluator_executor.Executor):
  """TFX's Evaluator; a baseline with other classes is left out, and that is recorded."""

  def Do(self, input_dict, output_dict, exec_properties) -> None:
    baselines = input_dict.get(spec.BASELINE_MODEL_KEY) or []
    comparison = {
      "baseline": baselines[0].uri if baselines else None,
      "compared": bool(baselines),
      "reason": "",
    }
    if baselines:
      candidate = artifact_utils.get_single_instance(input_dict[spec.MODEL_KEY])
      reason = classes_mismatch(
        read_class_names(path_utils.serving_model_path(candidate.uri)),
        read_class_names(path_utils.serving_model_path(baselines[0].uri)),
      )
      if reason:
        comparison.update(compared=False, reason=reason)
        logging.warning(
          "Baseline comparison skipped: the last blessed model's classes differ "
          "(%s); judged on the thresholds alone",
          reason,
        )
        input_dict = {k: v for k, v in input_dict.items() if k != spec.BASELINE_MODEL_KEY}
    super().Do(input_dict, output_dict, exec_properties)
    evaluation = artifact_utils.get_single_instance(output_dict[spec.EVALUATION_KEY])
    io_utils.write_string_file(
      os.path.join(evaluation.uri, COMPARISON_FILE), json.dumps(comparison, indent=2)
    )
