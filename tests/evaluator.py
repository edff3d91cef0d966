"""The Evaluator in tests: its executor run as the component runs it, with the served model as
ServingPusher records it."""

import os

from tfx import v1 as tfx
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs as spec

from components.evaluator import Evaluator, executor
from pipeline import configs
from pipeline.eval_config import create_eval_config


def served(model, version="7", model_uri=None, uri=None):
  """The PushedModel ServingPusher records for a push of `model` (the Evaluator's served
  baseline)."""
  pushed = standard_artifacts.PushedModel()
  pushed.id = 42
  pushed.uri = uri or os.path.join(os.path.dirname(model.uri), "pushed")
  pushed.set_int_custom_property("pushed", 1)
  pushed.set_string_custom_property("pushed_version", version)
  pushed.set_string_custom_property("model_uri", model.uri if model_uri is None else model_uri)
  pushed.set_string_custom_property("run_id", "run-0")
  return pushed


def evaluate(examples, model, out_dir, baseline=None, num_classes=10, **thresholds):
  """Runs the Evaluator's executor on the eval split, `baseline` the served PushedModel;
  returns (evaluation, blessing)."""
  config = configs.PipelineConfig(
    **{"accuracy_threshold": 0.0, "min_class_recall": 0.0, "min_class_precision": 0.0, **thresholds}
  )

  def channel(kind):
    return tfx.dsl.Channel(type=kind)

  component = Evaluator(
    examples=channel(standard_artifacts.Examples),
    model=channel(standard_artifacts.Model),
    served_model=channel(standard_artifacts.PushedModel),
    example_splits=["eval"],
    eval_config=create_eval_config(config, num_classes),
  )
  evaluation = standard_artifacts.ModelEvaluation()
  blessing = standard_artifacts.ModelBlessing()
  for artifact, name in ((evaluation, "evaluation"), (blessing, "blessing")):
    artifact.uri = str(out_dir / name)
    os.makedirs(artifact.uri)
  inputs = {spec.EXAMPLES_KEY: [examples], spec.MODEL_KEY: [model]}
  if baseline is not None:
    inputs[executor.SERVED_MODEL_KEY] = [baseline]
  context = executor.Executor.Context(tmp_dir=str(out_dir / "tmp"), unique_id="evaluator")
  executor.Executor(context).Do(
    inputs,
    {spec.EVALUATION_KEY: [evaluation], spec.BLESSING_KEY: [blessing]},
    dict(component.exec_properties),
  )
  return evaluation, blessing
