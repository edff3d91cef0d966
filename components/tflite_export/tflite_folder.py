"""The TFLite folder a mobile developer is handed: model_int8.tflite and model_float16.tflite
(convert.py: full-integer, calibrated on training images; float16 weights), labels.txt, input.json
(the contract with each interpreter's tensors), parity.json and README.md."""

import os
from typing import Any, Dict

import numpy as np
from tfx.utils import io_utils

from components import scoring
from components.tflite_export import contents, convert, parity

KINDS = (convert.INT8, convert.FLOAT16)


def write(
  folder: str,
  keras_model,
  spec: Dict[str, Any],
  class_names,
  gate: parity.GateImages,
  bounds: Dict[str, float],
  calibration: np.ndarray,
) -> Dict[str, Any]:
  """Converts (int8 calibrated on `calibration`, uint8 training images), scores on the gate
  images and writes the folder; returns the parity report."""
  models = {}
  for kind, content in convert.convert_all(keras_model, KINDS, calibration).items():
    io_utils.write_bytes_file(os.path.join(folder, convert.FILES[kind]), content)
    models[kind] = (content, scoring.TFLiteClassifier(content=content))
  found = parity.report(
    gate,
    bounds,
    {
      kind: parity.figures(gate, convert.FILES[kind], content, classifier.predict(gate.pixels))
      for kind, (content, classifier) in models.items()
    },
  )
  tensors = models[convert.INT8][1].describe()
  contents.write_common(
    folder,
    spec,
    class_names,
    {
      "signature": convert.SIGNATURE,
      **tensors,  # the signature's names (pixels, probabilities): the signature runner's
      "models": {kind: convert.FILES[kind] for kind in models},
      # The tensors' own names and indices, as tf.lite.Interpreter reports them.
      "tflite": {
        kind: {"file": convert.FILES[kind], "signature": convert.SIGNATURE, **c.tensors()}
        for kind, (_, c) in models.items()
      },
    },
  )
  io_utils.write_string_file(
    os.path.join(folder, "README.md"),
    readme(spec, tensors, found, models[convert.INT8][1].tensors()),
  )
  return found


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
    for k in KINDS
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
