"""The ONNX folder: model.onnx (onnx_convert.py: float32, opset 17, uint8 pixels in, any batch
size), labels.txt, input.json (the contract with the model's tensors), parity.json and
README.md with an onnxruntime snippet."""

import os
from typing import Any, Dict

from tfx.utils import io_utils

from components import scoring
from components.tflite_export import contents, onnx_convert, parity

KIND = "onnx"  # the one file's figures in the parity report
KINDS = (KIND,)


def write(
  folder: str, keras_model, spec: Dict[str, Any], class_names, gate: parity.GateImages, bounds
) -> Dict[str, Any]:
  """Converts, scores on the gate images with onnxruntime and writes the folder; returns the
  parity report."""
  content = onnx_convert.convert(keras_model)
  io_utils.write_bytes_file(os.path.join(folder, onnx_convert.FILE), content)
  classifier = scoring.ONNXClassifier(content=content)
  found = parity.report(
    gate,
    bounds,
    {KIND: parity.figures(gate, onnx_convert.FILE, content, classifier.predict(gate.pixels))},
  )
  found["opset"] = onnx_convert.OPSET
  tensors = classifier.describe()
  contents.write_common(
    folder,
    spec,
    class_names,
    {"file": onnx_convert.FILE, "opset": onnx_convert.OPSET, **tensors},
  )
  io_utils.write_string_file(os.path.join(folder, "README.md"), readme(spec, tensors, found))
  return found


SNIPPET = """import json

import numpy as np
import onnxruntime

from trainer_module.reference_preprocess import preprocess

with open("input.json") as f:
  contract = json.load(f)
with open("labels.txt") as f:
  labels = f.read().splitlines()
session = onnxruntime.InferenceSession(contract["file"], providers=["CPUExecutionProvider"])
pixels = preprocess("photo.png", contract)  # uint8 [height, width, channels]
feed = {contract["input"]["name"]: pixels[np.newaxis]}  # a batch of one; any batch size works
(probabilities,) = session.run([contract["output"]["name"]], feed)
print(labels[probabilities[0].argmax()], probabilities[0].max())
"""


def readme(spec: Dict[str, Any], tensors: Dict[str, Any], found: Dict[str, Any]) -> str:
  """What an ONNX user reads first."""
  model = found[KIND]
  height, width, channels = spec["height"], spec["width"], spec["channels"]
  return f"""# ONNX model

| file | size | top-1 agrees with the SavedModel | accuracy |
|---|---:|---:|---:|
| `{model["file"]}` | {model["bytes"] / 1024:.0f} KiB | {model["agreement"]:.1%} | {model["accuracy"]:.4f} |

On {found["images"]} `{found["split"]}` images; the SavedModel's accuracy there is
{found["saved_model"]["accuracy"]:.4f}. Opset {found["opset"]} (tf2onnx). `parity.json` has the
figures, `labels.txt` the class names (line i is class i), `input.json` the input contract.

- Input `{tensors["input"]["name"]}`: uint8 `[batch, {height}, {width}, {channels}]`, pixels
  0-255 ({spec["color"]}), no normalization: the model normalizes itself.
- Output `{tensors["output"]["name"]}`: float32 `[batch, {tensors["output"]["shape"][-1]}]`,
  class probabilities in the order of `labels.txt`.
- Before the call: decode to 8 bits per channel, {spec["color"]}; resize ({spec["resize"]}):
  {spec["resizing"]}. `input.json`'s `resize_rule` is the exact arithmetic;
  trainer_module/reference_preprocess.py (NumPy after TensorFlow's decoder) does it.

```python
{SNIPPET}```
"""
