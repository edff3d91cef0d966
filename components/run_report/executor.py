"""RunReport executor: the run summary, read from this execution's inputs, as KFP artifacts."""

import os
from typing import Any, Dict

from absl import logging
from ml_metadata.proto import metadata_store_pb2
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils

# The run summary's reading of each input: the node and output key RunRecord would give.
SOURCES = {
  "examples": ("ImageExampleGen", "examples"),
  "transform_graph": ("Transform", "transform_graph"),
  "model": ("Trainer", "model"),
  "model_run": ("Trainer", "model_run"),
  "evaluation": ("Evaluator", "evaluation"),
  "blessing": ("Evaluator", "blessing"),
  "infra_blessing": ("ServingCheck", "blessing"),
  "anomalies": ("ExampleValidator", "anomalies"),
  "pushed_model": ("ServingPusher", "pushed_model"),
}


class InputRecord:
  """This execution's inputs, read by pipeline.summary.collect as it reads a run from MLMD."""

  def __init__(self, input_dict, run_id: str):
    self.run_id = run_id
    self.executions = {}
    self._artifacts = {
      SOURCES[key]: _plain(artifact_utils.get_single_instance(artifacts))
      for key, artifacts in input_dict.items()
      if artifacts
    }

  def output(self, node: str, key: str):
    return self._artifacts.get((node, key))

  def input(self, node: str, key: str):  # the baseline is read from the evaluation itself
    del node, key

  def stage_seconds(self) -> Dict[str, float]:
    return {}

  def states(self) -> Dict[str, str]:
    return {}


def _plain(artifact) -> metadata_store_pb2.Artifact:
  """The artifact as MLMD holds it: TFX's Kubeflow v2 container reads an upstream artifact's
  metadata into struct-valued custom properties (a blessing's 1 becomes {"__value__": 1.0});
  the summary reads int, double and string values, as an MLMD store gives them."""
  result = metadata_store_pb2.Artifact()
  result.CopyFrom(artifact.mlmd_artifact)
  for name, value in artifact.mlmd_artifact.custom_properties.items():
    if value.WhichOneof("value") != "struct_value":
      continue
    decoded = artifact.get_custom_property(name)
    field = result.custom_properties[name]
    if isinstance(decoded, float) and decoded.is_integer():
      field.int_value = int(decoded)
    elif isinstance(decoded, (int, float)):
      field.double_value = decoded
    elif isinstance(decoded, str):
      field.string_value = decoded
  return result


def kfp_confusion_matrix(matrix: Dict[str, Any]) -> Dict[str, Any]:
  """The summary's confusion matrix in KFP's ClassificationMetrics metadata shape."""
  return {
    "annotationSpecs": [{"displayName": name} for name in matrix["classes"]],
    "rows": [{"row": list(row)} for row in matrix["counts"]],
  }


class Executor(base_executor.BaseExecutor):
  """Writes the confusion matrix into the ClassificationMetrics artifact's metadata and the
  model card to the Markdown artifact's URI (a file, as KFP's UI reads it)."""

  def Do(self, input_dict, output_dict, exec_properties) -> None:
    from pipeline import configs, report, summary  # pylint: disable=import-outside-toplevel

    self._log_startup(input_dict, output_dict, exec_properties)
    card = artifact_utils.get_single_instance(output_dict["model_card"])
    matrix = artifact_utils.get_single_instance(output_dict["confusion_matrix"])
    config = configs.PipelineConfig(
      pipeline_name=exec_properties["pipeline_name"], data_dir=exec_properties.get("data_dir")
    )
    # The run's folder: <pipeline root>/<run>/<task>/<output> under Vertex AI and spec_runner.
    run_id = os.path.basename(os.path.dirname(os.path.dirname(card.uri.rstrip("/"))))
    result = summary.collect(config, record=InputRecord(input_dict, run_id))
    if result["metrics"].get("confusion_matrix"):
      matrix.set_json_value_custom_property(
        "confusionMatrix", kfp_confusion_matrix(result["metrics"]["confusion_matrix"])
      )
      matrix.set_string_custom_property("split", result["metrics"].get("split", "eval"))
    if fileio.isdir(card.uri):  # the orchestrator may have made the URI a folder
      fileio.rmtree(card.uri)
    fileio.makedirs(os.path.dirname(card.uri))
    with fileio.open(card.uri, "w") as f:
      f.write(report.model_card(result))
    logging.info("Model card written to %s", card.uri)
