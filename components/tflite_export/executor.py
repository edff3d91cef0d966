"""TFLiteExport executor: convert a blessed model to each format of `formats` (TFLite int8 and
float16, ONNX), hold every file to the same parity gate with the SavedModel on the gate split
(parity.py), and write each format's folder (tflite_folder.py, onnx_folder.py): the models,
labels.txt, input.json, parity.json and a README."""

import json
import os
from typing import Any, Dict, List, NamedTuple, Optional, Sequence

from absl import logging
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils
from tfx.utils import io_utils, path_utils

from components import scoring
from components.image_example_gen import records
from components.image_example_gen.records import Record
from components.tflite_export import onnx_folder, parity, tflite_folder
from schemas import filenames, properties

# Each --export format: the module writing its folder (named after the format) and the kinds of
# file its parity report gives figures for.
FOLDERS = {"tflite": tflite_folder, "onnx": onnx_folder}


class ExportError(Exception):
  """Why there are no TFLite models to check."""


def read_examples(examples_uri: str, split: str, limit: int, sample: bool = False) -> List[Record]:
  """A split's first `limit` records; with `sample`, `limit` records drawn with a fixed seed
  from its first 4 x limit (ExampleGen mixes the classes)."""
  found = list(records.read(examples_uri, split, limit, sample_from=4 * limit if sample else None))
  if not found:
    raise ExportError(f"no images in split {split!r} of {examples_uri}")
  return found


def failed(e: Exception) -> str:
  """A conversion error as a report's one-line reason."""
  message = str(e).strip().splitlines()
  return f"export failed: {type(e).__name__}: {message[0] if message else ''}"


class Images(NamedTuple):
  """Labelled images of a split."""

  split: str
  records: Sequence[Record]


def export(
  saved_model_dir: str,
  formats: Sequence[str],
  gate: Images,
  calibration: Optional[Images],
  out_dir: str,
  bounds: Dict[str, float],
) -> Dict[str, Dict[str, Any]]:
  """Writes out_dir/<format>/ for each format, every file checked on the `gate` images with
  the same rule (int8 TFLite calibrated on `calibration`); returns each format's parity report
  with `passed` and `reason`. One format's failure (a conversion error included) never stops
  another's."""
  try:
    spec, keras_model, class_names = scoring.load_keras(saved_model_dir)
  except FileNotFoundError as e:
    reason = f"{e}: rerun with --no-cache to retrain it"
    return {fmt: {"passed": False, "reason": reason} for fmt in formats}
  images = parity.gate_images(
    saved_model_dir,
    [r.image for r in gate.records],
    [r.label for r in gate.records],
    spec,
    class_names,
    gate.split,
  )
  reports = {}
  for fmt in formats:
    folder = os.path.join(out_dir, fmt)
    try:
      fileio.makedirs(folder)
      if fmt == "tflite":
        pixels = scoring.decode([r.image for r in calibration.records], spec)
        found = tflite_folder.write(folder, keras_model, spec, class_names, images, bounds, pixels)
        found["calibration"] = {"split": calibration.split, "images": len(pixels)}
      else:
        found = FOLDERS[fmt].write(folder, keras_model, spec, class_names, images, bounds)
      reasons = parity.failures(found, FOLDERS[fmt].KINDS, bounds)
      reports[fmt] = {"passed": not reasons, "reason": "; ".join(reasons), **found}
    except Exception as e:  # noqa: BLE001  (logged; recorded as the format's reason)
      # The TF Serving push does not depend on an export: record why, do not fail the run.
      logging.exception("%s export failed", fmt)
      reports[fmt] = {"passed": False, "reason": failed(e)}
    if fileio.exists(folder):
      io_utils.write_string_file(
        os.path.join(folder, filenames.PARITY_REPORT), json.dumps(reports[fmt], indent=2)
      )
  return reports


class Executor(base_executor.BaseExecutor):
  """Exports a blessed model in each format asked for and records which may be pushed."""

  def Do(self, input_dict, output_dict, exec_properties) -> None:
    self._log_startup(input_dict, output_dict, exec_properties)
    model = artifact_utils.get_single_instance(input_dict["model"])
    examples = artifact_utils.get_single_instance(input_dict["examples"])
    output = artifact_utils.get_single_instance(output_dict["tflite_model"])
    blessings = input_dict.get("model_blessing") or []
    formats = [f for f in exec_properties["formats"].split(",") if f]
    if blessings and blessings[0].get_int_custom_property("blessed") != 1:
      reason = "not blessed by the Evaluator: not exported"
      reports = {fmt: {"passed": False, "reason": reason} for fmt in formats}
    else:
      try:
        split, calibration_split = (
          exec_properties["gate_split"],
          exec_properties["calibration_split"],
        )
        gate = read_examples(examples.uri, split, int(exec_properties["max_gate_images"]))
        calibration = (
          Images(
            calibration_split,
            read_examples(
              examples.uri,
              calibration_split,
              int(exec_properties["calibration_images"]),
              sample=True,
            ),
          )
          if "tflite" in formats
          else None
        )
        reports = export(
          path_utils.serving_model_path(model.uri),
          formats,
          Images(split, gate),
          calibration,
          output.uri,
          {k: float(exec_properties[k]) for k in ("min_agreement", "max_accuracy_drop")},
        )
      except Exception as e:  # noqa: BLE001  (logged; recorded as every format's reason)
        logging.exception("export failed")
        reports = {fmt: {"passed": False, "reason": failed(e)} for fmt in formats}
    logging.info("Export parity: %s", json.dumps(reports))
    io_utils.write_string_file(
      os.path.join(output.uri, filenames.PARITY_REPORT), json.dumps(reports, indent=2)
    )
    passed = [fmt for fmt in formats if reports[fmt]["passed"]]
    output.set_int_custom_property(properties.PASSED, int(len(passed) == len(formats)))
    output.set_string_custom_property(properties.PASSED_FORMATS, ",".join(passed))
    reason = "; ".join(
      (f"{fmt}: {r['reason']}" if len(formats) > 1 else r["reason"])
      for fmt, r in reports.items()
      if r["reason"]
    )
    if reason:
      output.set_string_custom_property("reason", reason)


def read_report(uri: str, fmt: str = "tflite") -> Optional[Dict[str, Any]]:
  """A format's parity report in an export artifact (None: the format was not asked for)."""
  reports = json.loads(io_utils.read_string_file(os.path.join(uri, filenames.PARITY_REPORT)))
  return reports.get(fmt)
