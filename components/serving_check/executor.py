"""ServingCheck executor: real images through serving_default, gRPC and REST shapes alike, and
the same images, decoded as input.json says, through serving_pixels."""

import base64
import json
import os
from typing import Any, Dict, List, Optional

import numpy as np
import tensorflow as tf
from absl import logging
from tensorflow_serving.apis import predict_pb2
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils
from tfx.utils import io_utils, path_utils

from components import scoring
from components.image_example_gen import records
from components.warmup import MAX_WARMUP_RECORDS, read_warmup, write_warmup
from schemas import filenames, properties
from schemas.features import (
  PIXELS_INPUT,
  SERVING_DEFAULT_SIGNATURE,
  SERVING_INPUT,
  SERVING_OUTPUTS,
  SERVING_PIXELS_SIGNATURE,
)
from trainer_module import contract

SIGNATURE = SERVING_DEFAULT_SIGNATURE
SAMPLE_FROM = 256  # records held in memory while sampling


class ServingCheckError(Exception):
  """Why the model would fail in TF Serving."""


def read_images(examples, split: str, count: int) -> List[bytes]:
  """`count` encoded images of a split, drawn with a fixed seed (the same on every run) from
  its first SAMPLE_FROM records, so that they span several classes."""
  images = [r.image for r in records.read(examples.uri, split, count, sample_from=SAMPLE_FROM)]
  if not images:
    raise ServingCheckError(f"no images in split {split!r} of {examples.uri}")
  return images


def predict_requests(
  images: List[bytes], model_name: str, max_batch_size: int
) -> List[predict_pb2.PredictRequest]:
  """One request per image (batch 1), then all of them in batches of at most max_batch_size
  (TF Serving's batching limit: a larger warmup request would fail at load time)."""
  batches = [images[i : i + max_batch_size] for i in range(0, len(images), max_batch_size)]
  requests = []
  for batch in [[image] for image in images] + batches:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = SIGNATURE
    request.inputs[SERVING_INPUT].CopyFrom(tf.make_tensor_proto(batch, dtype=tf.string))
    requests.append(request)
  return requests


def rest_body(images: List[bytes]) -> str:
  """What a REST client posts to :predict for these images."""
  return json.dumps(
    {
      "signature_name": SIGNATURE,
      "instances": [{"b64": base64.b64encode(i).decode()} for i in images],
    }
  )


def _rest_inputs(body: str) -> tf.Tensor:
  """TF Serving's decoding of a row-format body with one input: each {"b64"} becomes bytes."""
  return tf.constant([base64.b64decode(i["b64"]) for i in json.loads(body)["instances"]])


def check_signature(signature, name: str = SIGNATURE, expected: Optional[tf.TensorSpec] = None):
  """A signature takes one tensor as `expected` (default: serving_default's [batch] strings,
  the encoded images) and returns the agreed outputs."""
  expected = expected if expected is not None else tf.TensorSpec([None], tf.string, SERVING_INPUT)
  _, inputs = signature.structured_input_signature
  if list(inputs) != [expected.name]:
    raise ServingCheckError(f"{name} takes {sorted(inputs)}, expected ['{expected.name}']")
  spec = inputs[expected.name]
  if spec.dtype != expected.dtype or spec.shape.as_list() != expected.shape.as_list():
    raise ServingCheckError(
      f"{name} input {expected.name} is {spec.dtype.name} {spec.shape}, expected "
      f"{expected.dtype.name} {expected.shape}"
      + (" (encoded images)" if expected.dtype == tf.string else " (as input.json says)")
    )
  outputs = signature.structured_outputs
  for output, dtype in SERVING_OUTPUTS.items():
    if output not in outputs:
      raise ServingCheckError(f"{name} has no output {output!r} (it has {sorted(outputs)})")
    if outputs[output].dtype.name != dtype:
      raise ServingCheckError(
        f"{name} output {output!r} is {outputs[output].dtype.name}, expected {dtype}"
      )


def pixels_spec(spec: Dict[str, Any]) -> tf.TensorSpec:
  """serving_pixels' input: uint8 [batch, height, width, channels] as input.json says."""
  return tf.TensorSpec(
    [None, spec["height"], spec["width"], spec["channels"]], tf.uint8, PIXELS_INPUT
  )


def check_pixels(model, model_path: str, images: List[bytes], expected: np.ndarray) -> None:
  """serving_pixels on the images decoded as input.json says, as a tensor and as TF Serving's
  REST body of nested lists: serving_default's outputs, and its probabilities (`expected`)."""
  spec = contract.read_contract(model_path)
  if spec is None:
    raise ServingCheckError(f"the SavedModel has no {filenames.MODEL_CONTRACT}")
  if SERVING_PIXELS_SIGNATURE not in model.signatures:
    raise ServingCheckError(
      f"the SavedModel has no {SERVING_PIXELS_SIGNATURE} signature (a model trained before it "
      "was exported: rerun with --no-cache)"
    )
  signature = model.signatures[SERVING_PIXELS_SIGNATURE]
  check_signature(signature, SERVING_PIXELS_SIGNATURE, pixels_spec(spec))
  pixels = scoring.decode(images, spec)
  body = json.dumps({"signature_name": SERVING_PIXELS_SIGNATURE, "instances": pixels.tolist()})
  for how, tensor in (
    ("a tensor", tf.constant(pixels)),
    ("a REST body", tf.constant(json.loads(body)["instances"], tf.uint8)),
  ):
    try:
      outputs = signature(**{PIXELS_INPUT: tensor})
    except (tf.errors.OpError, ValueError, TypeError) as e:
      raise ServingCheckError(
        f"{SERVING_PIXELS_SIGNATURE} failed on {len(images)} real images as {how}: "
        f"{str(e).splitlines()[0]}"
      )
    check_outputs(outputs, len(images))
    if not np.allclose(outputs["probabilities"].numpy(), expected, atol=1e-5):
      raise ServingCheckError(
        f"{SERVING_PIXELS_SIGNATURE} and {SIGNATURE} answer differently on the same images "
        f"(pixels decoded as {filenames.MODEL_CONTRACT} says, sent as {how})"
      )


def check_outputs(outputs: Dict[str, tf.Tensor], batch: int) -> None:
  """Shapes agree with the batch; probabilities are a distribution; classes are the argmax."""
  probabilities = outputs["probabilities"].numpy()
  class_names = outputs["class_names"].numpy()
  if probabilities.ndim != 2 or probabilities.shape[0] != batch:
    raise ServingCheckError(
      f"probabilities have shape {probabilities.shape} for a batch of "
      f"{batch}, expected ({batch}, classes)"
    )
  expected = {"classes": (batch,), "scores": (batch,), "class_names": probabilities.shape}
  for name, shape in expected.items():
    if tuple(outputs[name].shape) != shape:
      raise ServingCheckError(f"{name} has shape {tuple(outputs[name].shape)}, expected {shape}")
  if not np.all(np.isfinite(probabilities)) or not np.allclose(
    probabilities.sum(axis=1), 1.0, atol=1e-3
  ):
    raise ServingCheckError("probabilities are not finite or do not sum to 1")
  top = probabilities.argmax(axis=1)
  if list(outputs["classes"].numpy()) != list(class_names[np.arange(batch), top]):
    raise ServingCheckError("classes are not the most probable class names")
  if not np.allclose(outputs["scores"].numpy(), probabilities.max(axis=1), atol=1e-6):
    raise ServingCheckError("scores are not the top probabilities")


def check_model(
  model_path: str, requests: List[predict_pb2.PredictRequest], images: List[bytes]
) -> Dict[str, Any]:
  """Replays the requests (gRPC) and the same images as a REST body, then sends them as pixels
  to serving_pixels; returns what was seen."""
  model = tf.saved_model.load(model_path)
  if SIGNATURE not in model.signatures:
    raise ServingCheckError(f"the SavedModel has no {SIGNATURE} signature")
  signature = model.signatures[SIGNATURE]
  check_signature(signature)
  answers = []
  for request in requests:
    tensor = tf.make_ndarray(request.inputs[SERVING_INPUT])
    try:
      outputs = signature(**{SERVING_INPUT: tf.constant(tensor)})
    except (tf.errors.OpError, ValueError, TypeError) as e:
      raise ServingCheckError(
        f"{SIGNATURE} failed on a real image batch of {len(tensor)}: {str(e).splitlines()[0]}"
      )
    check_outputs(outputs, len(tensor))
    answers.append(outputs)
  batched = answers[len(images) :]  # after one request per image, the batches of them all
  probabilities = np.concatenate([a["probabilities"].numpy() for a in batched])
  rest = signature(**{SERVING_INPUT: _rest_inputs(rest_body(images))})
  if not np.allclose(rest["probabilities"].numpy(), probabilities, atol=1e-5):
    raise ServingCheckError("the REST b64 body and the gRPC request gave different answers")
  check_pixels(model, model_path, images, probabilities)
  return {
    "signatures": [SIGNATURE, SERVING_PIXELS_SIGNATURE],
    "requests": len(requests),
    "images": len(images),
    "classes": [c.decode() for c in batched[0]["class_names"].numpy()[0]],
    "predicted": [c.decode() for a in batched for c in a["classes"].numpy()],
  }


class Executor(base_executor.BaseExecutor):
  """Blesses (and stamps with warmup requests) a model that serves real images correctly."""

  def Do(self, input_dict, output_dict, exec_properties) -> None:
    self._log_startup(input_dict, output_dict, exec_properties)
    model = artifact_utils.get_single_instance(input_dict["model"])
    examples = artifact_utils.get_single_instance(input_dict["examples"])
    blessing = artifact_utils.get_single_instance(output_dict["blessing"])
    max_batch_size = int(exec_properties["max_batch_size"])
    count = int(exec_properties["num_requests"])
    while count + -(-count // max_batch_size) > MAX_WARMUP_RECORDS:
      count -= 1
    stamped = path_utils.stamped_model_path(blessing.uri)
    try:
      images = read_images(examples, exec_properties["split"], count)
      requests = predict_requests(images, exec_properties["model_name"], max_batch_size)
      io_utils.copy_dir(path_utils.serving_model_path(model.uri), stamped)
      write_warmup(path_utils.warmup_file_path(stamped), requests)
      # What is checked is what will be pushed: the stamped copy, fed from its warmup file.
      report = {
        "blessed": True,
        **check_model(stamped, read_warmup(path_utils.warmup_file_path(stamped)), images),
      }
    except ServingCheckError as e:
      logging.error("Serving check failed: %s", e)
      report = {"blessed": False, "reason": str(e)}
      if fileio.exists(stamped):
        fileio.rmtree(stamped)
    io_utils.write_string_file(
      os.path.join(blessing.uri, filenames.SERVING_CHECK_REPORT), json.dumps(report, indent=2)
    )
    io_utils.write_string_file(
      os.path.join(blessing.uri, "INFRA_BLESSED" if report["blessed"] else "INFRA_NOT_BLESSED"), ""
    )
    blessing.set_int_custom_property("blessed", int(report["blessed"]))
    blessing.set_int_custom_property("has_model", int(report["blessed"]))
    blessing.set_string_custom_property(properties.MODEL_URI, model.uri)  # the model it checked
    if not report["blessed"]:
      blessing.set_string_custom_property("reason", report["reason"])
