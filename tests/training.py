"""Real TFX stages for Trainer and Tuner tests: digits -> ImageExampleGen -> Transform."""

import json
import os
import shutil
from typing import Dict, Optional

import numpy as np
import tensorflow as tf
from tfx import v1 as tfx
from tfx.components.trainer import executor as trainer_executor
from tfx.components.trainer import fn_args_utils
from tfx.components.transform import executor as transform_executor
from tfx.components.tuner import executor as tuner_executor
from tfx.dsl.components.base import base_executor
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs as spec
from tfx.utils import path_utils

from components import scoring
from components.image_example_gen import ImageExampleGen
from components.image_example_gen import executor as example_gen_executor
from components.tflite_export import TFLiteExport, TFLiteModel
from components.tflite_export import executor as tflite_executor
from pipeline import pipeline
from schemas import SCHEMA_PATH
from schemas.features import (
  BULK_INFERENCE_SIGNATURE,
  SERVING_EXAMPLES_SIGNATURE,
  SERVING_PIXELS_SIGNATURE,
  TRANSFORM_SIGNATURE,
)
from schemas.filenames import ASSETS_EXTRA, MODEL_KERAS, TRAINING_LOG
from tests import images
from trainer_module import contract

EXAMPLES = tfx.dsl.Channel(type=standard_artifacts.Examples)
GRAPH = tfx.dsl.Channel(type=standard_artifacts.TransformGraph)
SCHEMA = tfx.dsl.Channel(type=standard_artifacts.Schema)

# The Trainer tests' digits (conftest.py's digits_transformed): digit 0 is three times as
# frequent as the others, so "auto" class weights apply.
PER_CLASS = {d: 170 if d == 0 else 55 for d in range(10)}
BASE_CONFIG = {
  "model": "cnn",
  "epochs": 1,
  "batch_size": 32,
  "learning_rate": 1e-3,
  "class_weights": "auto",
}


def _artifact(cls, uri: str):
  artifact = cls()
  artifact.uri = uri
  os.makedirs(uri, exist_ok=True)
  return artifact


def digits_tree(root: str, per_class: Dict[int, int]) -> str:
  """A class-folder tree of real digit PNGs, `per_class[d]` images of digit d."""
  files, taken = {}, {d: 0 for d in per_class}
  for i, (pixels, digit) in enumerate(images.digit_pixels(1797)):
    if taken.get(digit, 1 << 30) < per_class.get(digit, 0):
      files[f"{digit}/digit_{i:04d}.png"] = images.encode(pixels, "png")
      taken[digit] += 1
  images.write_tree(root, files)
  return root


def ingest(data_dir: str, work: str):
  """Runs ImageExampleGen's executor (train 3 : eval 1); returns the Examples artifact."""
  examples = _artifact(standard_artifacts.Examples, os.path.join(work, "examples"))
  example_gen_executor.Executor().Do(
    {},
    {spec.EXAMPLES_KEY: [examples]},
    dict(ImageExampleGen(data_dir, splits={"train": 3, "eval": 1}).exec_properties),
  )
  return examples


def ingest_and_transform(data_dir: str, work: str, image_size: int, channels: int):
  """Runs ImageExampleGen's and Transform's executors; returns (transformed, transform_graph)."""
  return transform(ingest(data_dir, work), work, image_size, channels)


def raw_examples(transformed):
  """The Examples (ImageExampleGen's output) that ingest_and_transform's Transform read: beside
  its transformed examples."""
  examples = standard_artifacts.Examples()
  examples.uri = os.path.join(os.path.dirname(transformed.uri), "examples")
  examples.split_names = transformed.split_names
  return examples


def transform(examples, work: str, image_size: int, channels: int, resize: str = "squash"):
  """Runs Transform's executor on ImageExampleGen's output; (transformed, transform_graph)."""
  schema = _artifact(standard_artifacts.Schema, os.path.join(work, "schema"))
  shutil.copy(SCHEMA_PATH, schema.uri)
  graph = _artifact(standard_artifacts.TransformGraph, os.path.join(work, "transform_graph"))
  transformed = _artifact(standard_artifacts.Examples, os.path.join(work, "transformed"))
  component = pipeline.transform_component(EXAMPLES, SCHEMA, image_size, channels, resize)
  transform_executor.Executor().Do(
    {spec.EXAMPLES_KEY: [examples], spec.SCHEMA_KEY: [schema]},
    {
      spec.TRANSFORM_GRAPH_KEY: [graph],
      spec.TRANSFORMED_EXAMPLES_KEY: [transformed],
    },
    dict(component.exec_properties),
  )
  transformed.split_names = examples.split_names
  return transformed, graph


def fn_args(transformed, graph, custom_config: Dict):
  """The FnArgs the Trainer hands run_fn, without training."""
  component = tfx.components.Trainer(
    run_fn=pipeline.RUN_FN, examples=EXAMPLES, transform_graph=GRAPH, custom_config=custom_config
  )
  return fn_args_utils.get_common_fn_args(
    {spec.EXAMPLES_KEY: [transformed], spec.TRANSFORM_GRAPH_KEY: [graph]},
    dict(component.exec_properties),
  )


def run_trainer(
  transformed,
  graph,
  work: str,
  custom_config: Dict,
  hyperparameters: Optional[object] = None,
  run_fn: str = pipeline.RUN_FN,
):
  """Runs the Trainer's executor with run_fn (LabelIssues': pipeline.LABEL_ISSUES_FN, on raw
  examples); returns (model, model_run) artifacts."""
  model = _artifact(standard_artifacts.Model, os.path.join(work, "model"))
  model_run = _artifact(standard_artifacts.ModelRun, os.path.join(work, "model_run"))
  component = tfx.components.Trainer(
    run_fn=run_fn, examples=EXAMPLES, transform_graph=GRAPH, custom_config=custom_config
  )
  inputs = {spec.EXAMPLES_KEY: [transformed], spec.TRANSFORM_GRAPH_KEY: [graph]}
  if hyperparameters is not None:
    inputs[spec.HYPERPARAMETERS_KEY] = [hyperparameters]
  trainer_executor.GenericExecutor().Do(
    inputs,
    {spec.MODEL_KEY: [model], spec.MODEL_RUN_KEY: [model_run]},
    dict(component.exec_properties),
  )
  return model, model_run


def run_tuner(transformed, graph, work: str, custom_config: Dict):
  """Runs the Tuner's executor with tuner_fn; returns the best_hyperparameters artifact."""
  best = _artifact(standard_artifacts.HyperParameters, os.path.join(work, "best_hp"))
  results = _artifact(standard_artifacts.TunerResults, os.path.join(work, "tuner_results"))
  component = tfx.components.Tuner(
    tuner_fn=pipeline.TUNER_FN,
    examples=EXAMPLES,
    transform_graph=GRAPH,
    custom_config=custom_config,
  )
  context = base_executor.BaseExecutor.Context(tmp_dir=os.path.join(work, "tmp"), unique_id="tuner")
  tuner_executor.Executor(context).Do(
    {spec.EXAMPLES_KEY: [transformed], spec.TRANSFORM_GRAPH_KEY: [graph]},
    {spec.BEST_HYPERPARAMETERS_KEY: [best], spec.TUNER_RESULTS_KEY: [results]},
    dict(component.exec_properties),
  )
  return best


def trained_digits(work: str, per_class: int = 40, epochs: int = 2):
  """A small CNN trained on real digits: (raw Examples, Model, ModelRun) artifacts."""
  data_dir = digits_tree(os.path.join(work, "digits"), {d: per_class for d in range(10)})
  examples = ingest(data_dir, work)
  transformed, graph = transform(examples, work, image_size=16, channels=1)
  model, model_run = run_trainer(
    transformed,
    graph,
    work,
    {
      "model": "cnn",
      "epochs": epochs,
      "batch_size": 32,
      "learning_rate": 3e-3,
      "width": 16,
    },
  )
  return examples, model, model_run


def run_tflite_export(digits_model, out_dir: str, blessed: Optional[int] = None, **params):
  """Runs TFLiteExport's executor on (examples, model, _); returns (TFLiteModel, parity report)."""
  examples, model, _ = digits_model
  output = _artifact(TFLiteModel, out_dir)
  inputs = {"model": [model], "examples": [examples]}
  if blessed is not None:
    blessing = standard_artifacts.ModelBlessing()
    blessing.set_int_custom_property("blessed", blessed)
    inputs["model_blessing"] = [blessing]
  component = TFLiteExport(
    model=tfx.dsl.Channel(type=standard_artifacts.Model), examples=EXAMPLES, **params
  )
  tflite_executor.Executor().Do(inputs, {"tflite_model": [output]}, dict(component.exec_properties))
  return output, tflite_executor.read_report(output.uri)


def training_log(model_run):
  """The Trainer's training log: one record an epoch."""
  with open(os.path.join(model_run.uri, TRAINING_LOG)) as f:
    return [json.loads(line) for line in f]


def assert_serves_digits(model, num_classes=10):
  """The exported model's signatures, serving_default's answer on 8 encoded digits and
  serving_pixels' on the same digits decoded as input.json says: (loaded SavedModel, outputs)."""
  loaded = load(model)
  assert set(loaded.signatures) == {
    "serving_default",
    SERVING_PIXELS_SIGNATURE,
    SERVING_EXAMPLES_SIGNATURE,
    BULK_INFERENCE_SIGNATURE,
    TRANSFORM_SIGNATURE,
  }
  digits = images.digit_pixels(8)
  batch = tf.constant([images.encode(p, "png") for p, _ in digits])
  out = loaded.signatures["serving_default"](image_bytes=batch)
  assert out["probabilities"].shape == (8, num_classes)
  np.testing.assert_allclose(out["probabilities"].numpy().sum(axis=1), 1.0, rtol=1e-4)
  names = {n.decode() for n in out["class_names"].numpy()[0]}
  assert names == {str(d) for d in range(10)}
  assert all(c.decode() in names for c in out["classes"].numpy())
  pixels = scoring.decode(list(batch.numpy()), contract.read_contract(serving_model_dir(model)))
  by_pixels = loaded.signatures[SERVING_PIXELS_SIGNATURE](pixels=tf.constant(pixels))
  np.testing.assert_allclose(by_pixels["probabilities"], out["probabilities"], atol=1e-5)
  np.testing.assert_array_equal(by_pixels["classes"], out["classes"])
  return loaded, out


def serving_model_dir(model) -> str:
  return path_utils.serving_model_dir(model.uri)


def load(model):
  return tf.saved_model.load(serving_model_dir(model))


def keep_beside(model_dir: str, keras_model, spec: Dict, class_names) -> str:
  """What the Trainer keeps in a SavedModel's assets.extra/ (model.keras, input.json,
  labels.txt), for a Keras model built in a test; returns model_dir."""
  from trainer_module import labels  # noqa: PLC0415  (a test helper's own imports)

  os.makedirs(os.path.join(model_dir, ASSETS_EXTRA), exist_ok=True)
  keras_model.save(os.path.join(model_dir, MODEL_KERAS))
  contract.write_contract(model_dir, spec)
  labels.write_class_names(model_dir, list(class_names))
  return model_dir
