"""TFLiteExport executor: convert, check parity with the SavedModel on the gate split, and write
the folder a mobile developer is handed (models, labels.txt, input.json, parity.json, README)."""

import hashlib
import json
import os
from typing import Any, Dict, List

import numpy as np
from absl import logging
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils
from tfx.utils import io_utils, path_utils

from components import scoring
from components.image_example_gen import records
from components.image_example_gen.records import Record
from components.tflite_export import convert
from schemas import filenames
from trainer_module import contract


class ExportError(Exception):
  """Why there are no TFLite models to check."""


def read_examples(examples_uri: str, split: str, limit: int, sample: bool = False) -> List[Record]:
  """A split's first `limit` records; with `sample`, `limit` records drawn with a fixed seed
  from its first 4 x limit (ExampleGen mixes the classes)."""
  found = list(records.read(examples_uri, split, limit, sample_from=4 * limit if sample else None))
  if not found:
    raise ExportError(f"no images in split {split!r} of {examples_uri}")
  return found


def compare(reference: np.ndarray, candidate: np.ndarray, labels: np.ndarray) -> Dict[str, float]:
  """Top-1 agreement of two models' probabilities, and the candidate's accuracy."""
  top = candidate.argmax(axis=1)
  return {
    "agreement": round(float(np.mean(top == reference.argmax(axis=1))), 4),
    "accuracy": round(float(np.mean(top == labels)), 4),
  }


def gate(results: Dict[str, Any], min_agreement: float, max_drop: float) -> List[str]:
  """Why each TFLite model fails parity with the SavedModel (empty: all pass)."""
  reasons = []
  reference = results["saved_model"]["accuracy"]
  for kind in (convert.INT8, convert.FLOAT16):
    figures = results[kind]
    if figures["agreement"] < min_agreement:
      reasons.append(
        f"{kind}: top-1 agrees with the SavedModel on {figures['agreement']:.1%} "
        f"of {results['images']} {results['split']} images (needs "
        f"{min_agreement:.0%})"
      )
    if figures["accuracy"] < reference - max_drop - 1e-9:
      reasons.append(
        f"{kind}: accuracy {figures['accuracy']:.4f} is "
        f"{100 * (reference - figures['accuracy']):.1f} points below the "
        f"SavedModel's {reference:.4f} (at most {100 * max_drop:g})"
      )
  return reasons


def _sha256(data: bytes) -> str:
  return hashlib.sha256(data).hexdigest()


def export(saved_model_dir: str, examples, folder: str, params: Dict[str, Any]) -> Dict[str, Any]:
  """Writes the TFLite folder; returns the parity report (without `passed`)."""
  try:
    spec, keras_model, class_names = scoring.load_keras(saved_model_dir)
  except FileNotFoundError as e:
    raise ExportError(f"{e}: rerun with --no-cache to retrain it")
  calibration = read_examples(
    examples.uri, params["calibration_split"], int(params["calibration_images"]), sample=True
  )
  gate_images = read_examples(examples.uri, params["gate_split"], int(params["max_gate_images"]))
  fileio.makedirs(folder)
  calibration_pixels = scoring.decode([r.image for r in calibration], spec)
  models = {}
  for kind in (convert.INT8, convert.FLOAT16):
    content = convert.convert(keras_model, kind, calibration_pixels)
    io_utils.write_bytes_file(os.path.join(folder, convert.FILES[kind]), content)
    models[kind] = (content, scoring.TFLiteClassifier(content=content))

  encoded = [r.image for r in gate_images]
  index = {name: i for i, name in enumerate(class_names)}
  labels = np.array([index.get(r.label, -1) for r in gate_images])
  served = scoring.served_probabilities(saved_model_dir, encoded)
  pixels = scoring.decode(encoded, spec)
  results = {
    "split": params["gate_split"],
    "images": len(encoded),
    "saved_model": {"accuracy": round(float(np.mean(served.argmax(1) == labels)), 4)},
    "bounds": {
      "min_agreement": params["min_agreement"],
      "max_accuracy_drop": params["max_accuracy_drop"],
    },
    "calibration": {"split": params["calibration_split"], "images": len(calibration)},
  }
  for kind, (content, classifier) in models.items():
    results[kind] = {
      "file": convert.FILES[kind],
      "bytes": len(content),
      "sha256": _sha256(content),
      **compare(served, classifier.predict(pixels), labels),
    }
    results[kind]["accuracy_change"] = round(
      results[kind]["accuracy"] - results["saved_model"]["accuracy"], 4
    )

  io_utils.write_string_file(
    os.path.join(folder, filenames.TFLITE_LABELS), "".join(name + "\n" for name in class_names)
  )
  tensors = models[convert.INT8][1].describe()
  io_utils.write_string_file(
    os.path.join(folder, filenames.TFLITE_CONTRACT),
    json.dumps(
      {
        # A contract written before resize_rule existed gets it here.
        "resize_rule": contract.resize_rule(spec["resize"]),
        **spec,
        "signature": convert.SIGNATURE,
        **tensors,  # the signature's names (pixels, probabilities): the signature runner's
        "labels": filenames.TFLITE_LABELS,
        "classes": len(class_names),
        "models": {kind: convert.FILES[kind] for kind in models},
        # The tensors' own names and indices, as tf.lite.Interpreter reports them.
        "tflite": {
          kind: {"file": convert.FILES[kind], "signature": convert.SIGNATURE, **c.tensors()}
          for kind, (_, c) in models.items()
        },
      },
      indent=2,
    ),
  )
  io_utils.write_string_file(
    os.path.join(folder, "README.md"),
    readme(spec, tensors, results, models[convert.INT8][1].tensors()),
  )
  return results


def readme(
  spec: Dict[str, Any],
  tensors: Dict[str, Any],
  results: Dict[str, Any],
  tflite: Dict[str, Any],
) -> str:
  """What a mobile developer reads first (`tflite`: the int8 model's interpreter tensors)."""
  height, width, channels = spec["height"], spec["width"], spec["channels"]
  rows = "\n".join(
    f"| `{results[k]['file']}` | {results[k]['bytes'] / 1024:.0f} KiB | "
    f"{results[k]['agreement']:.1%} | {results[k]['accuracy']:.4f} |"
    for k in (convert.INT8, convert.FLOAT16)
  )
  return f"""# TFLite models

| file | size | top-1 agrees with the SavedModel | accuracy |
|---|---:|---:|---:|
{rows}

On {results["images"]} `{results["split"]}` images; the SavedModel's accuracy there is
{results["saved_model"]["accuracy"]:.4f}. `parity.json` has the figures, `labels.txt` the class
names (line i is class i), `input.json` the input contract.

- Input `{tensors["input"]["name"]}` (the signature runner's name; the interpreter's:
  `{tflite["input"]["name"]}`): uint8 `[1, {height}, {width}, {channels}]`, pixels 0-255
  ({spec["color"]}), no normalization: the model normalizes itself.
- Output `{tensors["output"]["name"]}` (the interpreter's: `{tflite["output"]["name"]}`):
  float32 `[1, {tensors["output"]["shape"][-1]}]`, class probabilities in the order of
  `labels.txt`. `input.json`'s `tflite` names each model's tensors.
- Before the call: decode to 8 bits per channel, {spec["color"]}; resize ({spec["resize"]}):
  {spec["resizing"]}. `input.json`'s `resize_rule` is the exact arithmetic;
  trainer_module/reference_preprocess.py (NumPy after TensorFlow's decoder) does it.

```python
import json

import numpy as np
import tensorflow as tf

from trainer_module.reference_preprocess import preprocess

contract = json.load(open("input.json"))
model = contract["tflite"]["int8"]  # or "float16"
interpreter = tf.lite.Interpreter(model_path=model["file"])
interpreter.allocate_tensors()
(tensor_in,), (tensor_out,) = interpreter.get_input_details(), interpreter.get_output_details()
pixels = preprocess("photo.png", contract)  # uint8 [{height}, {width}, {channels}]
interpreter.set_tensor(tensor_in["index"], pixels[np.newaxis])
interpreter.invoke()
probabilities = interpreter.get_tensor(tensor_out["index"])[0]
labels = open("labels.txt").read().splitlines()
print(labels[probabilities.argmax()], probabilities.max())
```
"""


class Executor(base_executor.BaseExecutor):
  """Exports a blessed model to TFLite and records whether it may be pushed."""

  def Do(self, input_dict, output_dict, exec_properties) -> None:
    self._log_startup(input_dict, output_dict, exec_properties)
    model = artifact_utils.get_single_instance(input_dict["model"])
    examples = artifact_utils.get_single_instance(input_dict["examples"])
    output = artifact_utils.get_single_instance(output_dict["tflite_model"])
    blessings = input_dict.get("model_blessing") or []
    folder = os.path.join(output.uri, filenames.TFLITE_FOLDER)
    if blessings and blessings[0].get_int_custom_property("blessed") != 1:
      report = {"passed": False, "reason": "not blessed by the Evaluator: not exported"}
    else:
      try:
        results = export(
          path_utils.serving_model_path(model.uri), examples, folder, exec_properties
        )
        reasons = gate(
          results,
          float(exec_properties["min_agreement"]),
          float(exec_properties["max_accuracy_drop"]),
        )
        report = {"passed": not reasons, "reason": "; ".join(reasons), **results}
      except Exception as e:  # noqa: BLE001  (logged; recorded as the export's reason)
        # The TF Serving push does not depend on TFLite: record why, do not fail the run.
        logging.exception("TFLite export failed")
        message = str(e).strip().splitlines()
        report = {
          "passed": False,
          "reason": f"export failed: {type(e).__name__}: {message[0] if message else ''}",
        }
    logging.info("TFLite parity: %s", json.dumps(report))
    io_utils.write_string_file(
      os.path.join(output.uri, filenames.PARITY_REPORT), json.dumps(report, indent=2)
    )
    if fileio.exists(folder):
      io_utils.write_string_file(
        os.path.join(folder, filenames.PARITY_REPORT), json.dumps(report, indent=2)
      )
    output.set_int_custom_property("passed", int(report["passed"]))
    if report["reason"]:
      output.set_string_custom_property("reason", report["reason"])


def read_report(uri: str) -> Dict[str, Any]:
  """The parity report of a TFLiteModel artifact."""
  return json.loads(io_utils.read_string_file(os.path.join(uri, filenames.PARITY_REPORT)))
