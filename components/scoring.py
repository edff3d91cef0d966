"""Scoring images with a trained or pushed model: decode as its input.json says (what Transform
does), batch, predict. The one scorer of `python -m pipeline.predict`, the report's
predictions.csv and Grad-CAM pages, and the exports' parity check.

Four ways in:
- SavedModelScorer: a pushed version's serving_default on encoded bytes (what TF Serving answers);
- load_keras + keras_probabilities: the Trainer's model.keras beside the SavedModel, on decoded
  pixels (Grad-CAM and an ensemble's members need its layers);
- TFLiteClassifier and ONNXClassifier: a .tflite or .onnx file (tf.lite's interpreter,
  onnxruntime) on decoded pixels;
- FileScorer: either file with input.json and labels.txt beside it, on encoded images decoded
  as the contract says (what an app does).
"""

import functools
import os
import warnings
import weakref
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from schemas import filenames
from schemas.features import (
  PREDICTION_KEY,
  SERVING_DEFAULT_SIGNATURE,
  SERVING_INPUT,
  TFLITE_INPUT,
  TFLITE_OUTPUT,
)
from trainer_module import contract, labels
from trainer_module.preprocessing import decode_images

BATCH = 64  # images decoded or predicted at a time
_FORWARD = weakref.WeakKeyDictionary()  # Keras model -> its forward pass as one graph


@functools.lru_cache(maxsize=8)
def _decoder(size: int, channels: int, resize: str):
  """decode_images as one graph for any batch of encoded images (eager, tf.map_fn runs its
  Python function once per image: ten times slower). No autograph: decode_images has no Python
  control flow on tensors (tf.map_fn, tf.cond), and converting it costs 0.2 s a process."""
  return tf.function(
    lambda images: decode_images(images, size, channels, resize),
    input_signature=[tf.TensorSpec([None], tf.string)],
    autograph=False,
  )


def decode(images: Sequence[bytes], spec: Dict[str, Any]) -> np.ndarray:
  """uint8 pixels [n, height, width, channels] of encoded images, decoded and resized as the
  input contract `spec` (input.json) says, BATCH at a time."""
  if not len(images):
    return np.zeros((0, spec["height"], spec["width"], spec["channels"]), np.uint8)
  run = _decoder(spec["height"], spec["channels"], spec["resize"])
  return np.concatenate(
    [run(tf.constant(images[i : i + BATCH])).numpy() for i in range(0, len(images), BATCH)]
  )


class KerasModel(NamedTuple):
  """What the Trainer kept beside a SavedModel: the input contract, the Keras model and the
  class names in id order."""

  spec: Dict[str, Any]
  model: Any  # keras.Model
  class_names: List[str]


def load_keras(model_dir: str) -> KerasModel:
  """The Keras model beside a SavedModel (assets.extra/), with its contract and class names."""
  spec, model = contract.read_contract(model_dir), contract.load_keras_model(model_dir)
  class_names = labels.read_class_names(model_dir)
  if spec is None or model is None or class_names is None:
    raise FileNotFoundError(
      f"{model_dir} has no {filenames.MODEL_CONTRACT}, {filenames.MODEL_KERAS} or "
      f"{filenames.MODEL_LABELS} (a model trained before they were kept)"
    )
  return KerasModel(spec, model, class_names)


def keras_probabilities(model, pixels: np.ndarray, batch_size: int = BATCH) -> np.ndarray:
  """Probabilities [n, classes] of uint8 pixels through a Keras model, cast to float32 a batch
  at a time; [outputs, n, classes] for a model of several outputs."""
  name = model.inputs[0].name
  if model not in _FORWARD:  # traced once for any batch size (an eager call is slower)
    held = weakref.ref(model)  # the cache must not keep the model alive
    _FORWARD[model] = tf.function(
      lambda x: held()({name: x}, training=False),
      input_signature=[tf.TensorSpec([None, *pixels.shape[1:]], tf.float32)],
    )
  forward = _FORWARD[model]
  batches = [
    np.asarray(forward(tf.constant(pixels[i : i + batch_size], tf.float32)))
    for i in range(0, len(pixels), batch_size)
  ]
  return np.concatenate(batches, axis=batches[0].ndim - 2)


class SavedModelScorer:
  """A pushed version's serving_default, called as TF Serving would (encoded image bytes)."""

  def __init__(self, version_dir: str):
    self._serve = tf.saved_model.load(version_dir).signatures[SERVING_DEFAULT_SIGNATURE]
    # The signature's own names replace these at the first call; until then (and when no file
    # can be classified) those the Trainer wrote beside the model, if any.
    self.class_names: List[str] = labels.read_class_names(version_dir) or []

  def __call__(self, images: Sequence[bytes]) -> np.ndarray:
    """Probabilities [n, classes], BATCH images a call."""
    found = []
    for i in range(0, len(images), BATCH):
      outputs = self._serve(**{SERVING_INPUT: tf.constant(images[i : i + BATCH])})
      self.class_names = [c.decode() for c in outputs["class_names"].numpy()[0]]
      found.append(outputs[PREDICTION_KEY].numpy())
    return np.concatenate(found)


def _interpreter_class():
  """LiteRT's interpreter when installed (ai-edge-litert), else TensorFlow's (same API)."""
  try:
    from ai_edge_litert.interpreter import Interpreter  # noqa: PLC0415  (an optional package)

    return Interpreter
  except ImportError:
    return tf.lite.Interpreter


class TFLiteClassifier:
  """A .tflite image classifier: uint8 pixels [h, w, c] -> probabilities [classes]."""

  def __init__(
    self,
    path: Optional[str] = None,
    content: Optional[bytes] = None,
    num_threads: Optional[int] = None,
  ):
    if content is None:
      with tf.io.gfile.GFile(path, "rb") as f:
        content = f.read()
    with warnings.catch_warnings():  # tf.lite.Interpreter's deprecation notice
      warnings.simplefilter("ignore")
      self.interpreter = _interpreter_class()(model_content=content, num_threads=num_threads)
    self.interpreter.allocate_tensors()
    (self.input,) = self.interpreter.get_input_details()
    (self.output,) = self.interpreter.get_output_details()

  @property
  def shape(self):
    """[height, width, channels] of its input."""
    return [int(d) for d in self.input["shape"][1:]]

  def __call__(self, pixels: np.ndarray) -> np.ndarray:
    self.interpreter.set_tensor(
      self.input["index"], np.asarray(pixels, self.input["dtype"])[np.newaxis]
    )
    self.interpreter.invoke()
    return np.array(self.interpreter.get_tensor(self.output["index"])[0], np.float32)

  def predict(self, images: Iterable[np.ndarray]) -> np.ndarray:
    """[batch, classes] probabilities, one image at a time (the model's batch is 1)."""
    return np.stack([self(image) for image in images])

  def describe(self) -> dict:
    """Input and output tensors as input.json records them."""
    return {
      "input": _tensor(self.input, name=TFLITE_INPUT),
      "output": _tensor(self.output, name=TFLITE_OUTPUT),
    }

  def tensors(self) -> dict:
    """The interpreter's own input and output tensors (get_input_details and
    get_output_details: `name` such as "serve_pixels:0", which the plain interpreter knows, and
    `index`), each with the signature's name for it (`signature_name`, which only the signature
    runner knows)."""
    return {
      key: _tensor(details, name=details["name"], index=int(details["index"]), signature_name=name)
      for key, details, name in (
        ("input", self.input, TFLITE_INPUT),
        ("output", self.output, TFLITE_OUTPUT),
      )
    }


def _tensor(details: dict, **names) -> dict:
  """One interpreter tensor as input.json describes it: `names`, then its dtype, shape and
  (when quantized) scale and zero point."""
  described = {
    **names,
    "dtype": np.dtype(details["dtype"]).name,
    "shape": [int(d) for d in details["shape"]],
  }
  scale, zero_point = details["quantization"]
  if scale:
    described["quantization"] = {"scale": float(scale), "zero_point": int(zero_point)}
  return described


class ONNXClassifier:
  """A .onnx image classifier run by onnxruntime: uint8 pixels [batch, h, w, c] ->
  probabilities [batch, classes]."""

  def __init__(self, path: Optional[str] = None, content: Optional[bytes] = None):
    import onnxruntime  # noqa: PLC0415  (onnxruntime: only for ONNX models)

    if content is None:
      with tf.io.gfile.GFile(path, "rb") as f:
        content = f.read()
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only
    self.session = onnxruntime.InferenceSession(
      content, sess_options=options, providers=["CPUExecutionProvider"]
    )
    (self.input,), (self.output,) = self.session.get_inputs(), self.session.get_outputs()

  @property
  def shape(self):
    """[height, width, channels] of its input."""
    return [int(d) for d in self.input.shape[1:]]

  def predict(self, images: np.ndarray) -> np.ndarray:
    """[batch, classes] probabilities, BATCH images a run."""
    images = np.asarray(images, np.uint8)
    if not len(images):
      return np.zeros((0, self.output.shape[-1]), np.float32)
    return np.concatenate(
      [
        self.session.run([self.output.name], {self.input.name: images[i : i + BATCH]})[0]
        for i in range(0, len(images), BATCH)
      ]
    ).astype(np.float32)

  def describe(self) -> dict:
    """Input and output tensors as input.json records them (the batch dimension by name)."""

    def tensor(details):
      dtype = details.type[len("tensor(") : -1]
      return {
        "name": details.name,
        "dtype": {"float": "float32"}.get(dtype, dtype),
        "shape": [d if isinstance(d, int) else str(d) for d in details.shape],
      }

    return {"input": tensor(self.input), "output": tensor(self.output)}


CLASSIFIERS = {".tflite": TFLiteClassifier, ".onnx": ONNXClassifier}  # by file extension


class FileScorer:
  """A .tflite or .onnx model, given the input contract and class names beside it (input.json,
  labels.txt); images decoded and resized here, as input.json says (what an app does)."""

  def __init__(self, path: str, spec: Dict[str, Any], class_names: List[str]):
    self.spec, self.class_names = spec, class_names
    self._model = CLASSIFIERS[os.path.splitext(path)[1]](path)

  def __call__(self, images: Sequence[bytes]) -> np.ndarray:
    return self._model.predict(decode(images, self.spec))


def served_probabilities(version_dir: str, images: Sequence[bytes]) -> np.ndarray:
  """What TF Serving answers: serving_default's probabilities for the encoded images."""
  return SavedModelScorer(version_dir)(images)


def classify(scorer, images: Sequence[bytes]) -> List[Tuple[Optional[np.ndarray], Optional[str]]]:
  """(probabilities, None) or (None, why not) per image: BATCH at a time, one by one when a
  batch fails, so that an image the decoder refuses only fails itself."""
  results = []
  for start in range(0, len(images), BATCH):
    batch = images[start : start + BATCH]
    try:
      results += [(p, None) for p in scorer(batch)]
    except (tf.errors.OpError, ValueError) as e:
      if len(batch) == 1:
        results.append((None, f"decode_error ({str(e).strip().splitlines()[0][:200]})"))
      else:
        for image in batch:
          results += classify(scorer, [image])
  return results


def top_k(probabilities: np.ndarray, k: int) -> List[int]:
  """The ids of the k most probable classes, most probable first (of equals, the lower id
  first: the first is argmax's)."""
  return [int(i) for i in np.argsort(-np.asarray(probabilities), kind="stable")[:k]]
