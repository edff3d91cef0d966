"""What every export folder holds beside its model files: labels.txt (class names in id order,
the served class_names) and input.json (the SavedModel's input contract, its exact resize rule,
and the format's own tensors and files)."""

import json
import os
from typing import Any, Dict, Sequence

from tfx.utils import io_utils

from schemas import filenames
from trainer_module import contract


def write_common(
  folder: str, spec: Dict[str, Any], class_names: Sequence[str], described: Dict[str, Any]
) -> None:
  """labels.txt and input.json: `spec` (the SavedModel's input.json) with `described`, the
  format's tensors and files."""
  io_utils.write_string_file(
    os.path.join(folder, filenames.TFLITE_LABELS), "".join(name + "\n" for name in class_names)
  )
  io_utils.write_string_file(
    os.path.join(folder, filenames.TFLITE_CONTRACT),
    json.dumps(
      {
        # A contract written before resize_rule existed gets it here.
        "resize_rule": contract.resize_rule(spec["resize"]),
        **spec,
        **described,
        "labels": filenames.TFLITE_LABELS,
        "classes": len(class_names),
      },
      indent=2,
    ),
  )
