"""RunReport executor: the run summary, read from this execution's inputs, as KFP artifacts."""

import os
from typing import Any, Dict

from absl import logging
from ml_metadata.proto import metadata_store_pb2
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils

from reporting import card, executions, finish, outcome
from reporting.build import RunContext
from schemas import nodes

# The run record's reading of each input: the node and output key RunRecord would give.
SOURCES = {
  "examples": (nodes.EXAMPLE_GEN, "examples"),
  "transform_graph": (nodes.TRANSFORM, "transform_graph"),
  "model": (nodes.TRAINER, "model"),
  "model_run": (nodes.TRAINER, "model_run"),
  "evaluation": (nodes.EVALUATOR, "evaluation"),
  "blessing": (nodes.EVALUATOR, "blessing"),
  "infra_blessing": (nodes.SERVING_CHECK, "blessing"),
  "anomalies": (nodes.EXAMPLE_VALIDATOR, "anomalies"),
  "pushed_model": (nodes.PUSHER, "pushed_model"),
  "inference_examples": (nodes.INFERENCE_EXAMPLE_GEN, "examples"),
  "inference_result": (nodes.BULK_INFERRER, "inference_result"),
}


def _plain(artifact) -> metadata_store_pb2.Artifact:
  """The artifact as MLMD holds it: TFX's Kubeflow v2 container reads an upstream artifact's
  metadata into struct-valued custom properties (a blessing's 1 becomes {"__value__": 1.0});
  the record reads int, double and string values, as an MLMD store gives them."""
  return executions.from_metadata(
    artifact.uri,
    {name: artifact.get_custom_property(name) for name in artifact.mlmd_artifact.custom_properties},
  )


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
    self._log_startup(input_dict, output_dict, exec_properties)
    model_card = artifact_utils.get_single_instance(output_dict["model_card"])
    matrix = artifact_utils.get_single_instance(output_dict["confusion_matrix"])
    context = RunContext(
      pipeline_name=exec_properties["pipeline_name"], data_dir=exec_properties.get("data_dir")
    )
    # The run's folder: <pipeline root>/<run>/<task>/<output> under Vertex AI and spec_runner.
    run_id = os.path.basename(os.path.dirname(os.path.dirname(model_card.uri.rstrip("/"))))
    artifacts = {
      SOURCES[key]: _plain(artifact_utils.get_single_instance(artifacts))
      for key, artifacts in input_dict.items()
      if artifacts
    }
    result, _ = finish.finish_run(
      context,
      outcome.Outcome(),
      run_id,
      executions.ArtifactRun(run_id, artifacts),
      say=logging.info,
      error=logging.error,
    )
    if result.metrics.get("confusion_matrix"):
      matrix.set_json_value_custom_property(
        "confusionMatrix", kfp_confusion_matrix(result.metrics["confusion_matrix"])
      )
      matrix.set_string_custom_property("split", result.metrics.get("split", "eval"))
    if fileio.isdir(model_card.uri):  # the orchestrator may have made the URI a folder
      fileio.rmtree(model_card.uri)
    fileio.makedirs(os.path.dirname(model_card.uri))
    with fileio.open(model_card.uri, "w") as f:
      f.write(card.model_card(result))
    logging.info("Model card written to %s", model_card.uri)
