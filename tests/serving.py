"""ServingCheck runs for component tests, and SavedModels that would fail in TF Serving."""

import json
import os

import tensorflow as tf
from tfx import types
from tfx.types import standard_artifacts
from tfx.utils import path_utils

from components.serving_check import executor
from components.serving_check.component import ServingCheck
from schemas import filenames


def run_check(examples, model, out_dir, num_requests=5, max_batch_size=64):
  """Runs ServingCheck's executor; returns (InfraBlessing artifact, its serving_check.json)."""
  blessing = standard_artifacts.InfraBlessing()
  blessing.uri = str(out_dir)
  os.makedirs(blessing.uri, exist_ok=True)
  component = ServingCheck(
    model=types.Channel(type=standard_artifacts.Model),
    examples=types.Channel(type=standard_artifacts.Examples),
    num_requests=num_requests,
    model_name="digits",
    max_batch_size=max_batch_size,
  )
  executor.Executor().Do(
    {"model": [model], "examples": [examples]},
    {"blessing": [blessing]},
    dict(component.exec_properties),
  )
  with open(os.path.join(blessing.uri, filenames.SERVING_CHECK_REPORT)) as f:
    return blessing, json.load(f)


def saved_model(path, module):
  """A Model artifact holding `module` saved with its `serve` as serving_default."""
  model = standard_artifacts.Model()
  model.uri = str(path)
  tf.saved_model.save(
    module, path_utils.serving_model_path(model.uri), signatures={"serving_default": module.serve}
  )
  return model


class FloatInput(tf.Module):
  @tf.function(input_signature=[tf.TensorSpec([None, 16, 16, 1], tf.float32, name="x")])
  def serve(self, x):
    return {"probabilities": tf.nn.softmax(tf.reduce_mean(x, axis=[1, 2]))}


class NoClasses(tf.Module):
  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
  def serve(self, image_bytes):
    batch = tf.shape(image_bytes)[0]
    return {"probabilities": tf.fill([batch, 2], 0.5), "scores": tf.fill([batch], 0.5)}


class Fixed28x28(tf.Module):
  """Right names and types, but assumes 28x28 images: the real 8x8 digits make it fail."""

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
  def serve(self, image_bytes):
    pixels = tf.map_fn(
      lambda b: tf.reduce_mean(tf.reshape(tf.cast(tf.io.decode_png(b), tf.float32), [28, 28, 1])),
      image_bytes,
      fn_output_signature=tf.float32,
    )
    probabilities = tf.stack([tf.sigmoid(pixels), 1 - tf.sigmoid(pixels)], axis=1)
    names = tf.constant(["a", "b"])
    return {
      "classes": tf.gather(names, tf.argmax(probabilities, axis=1)),
      "scores": tf.reduce_max(probabilities, axis=1),
      "probabilities": probabilities,
      "class_names": tf.tile(names[tf.newaxis], [tf.shape(pixels)[0], 1]),
    }
