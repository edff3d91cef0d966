"""RunReport: the run's confusion matrix and model card as artifacts the KFP / Vertex UI shows."""

from typing import Optional, Union

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.orchestration import data_types
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from reporting import executor


class ClassificationMetrics(types.Artifact):
  """KFP's classification metrics: the UI draws `confusionMatrix` from the metadata."""

  TYPE_NAME = "system.ClassificationMetrics"


class Markdown(types.Artifact):
  """KFP's Markdown: the UI renders the file at the artifact's URI."""

  TYPE_NAME = "system.Markdown"


class RunReportSpec(types.ComponentSpec):
  PARAMETERS = {
    "pipeline_name": ExecutionParameter(type=str),
    "data_dir": ExecutionParameter(type=str, optional=True),
  }
  INPUTS = {
    "examples": ChannelParameter(type=standard_artifacts.Examples),
    "transform_graph": ChannelParameter(type=standard_artifacts.TransformGraph),
    "model": ChannelParameter(type=standard_artifacts.Model),
    "model_run": ChannelParameter(type=standard_artifacts.ModelRun),
    "evaluation": ChannelParameter(type=standard_artifacts.ModelEvaluation),
    "blessing": ChannelParameter(type=standard_artifacts.ModelBlessing),
    "infra_blessing": ChannelParameter(type=standard_artifacts.InfraBlessing),
    "anomalies": ChannelParameter(type=standard_artifacts.ExampleAnomalies),
    "pushed_model": ChannelParameter(type=standard_artifacts.PushedModel),
    # --infer-dir: the unlabelled images ingested and BulkInferrer's PredictionLogs
    "inference_examples": ChannelParameter(type=standard_artifacts.Examples, optional=True),
    "inference_result": ChannelParameter(type=standard_artifacts.InferenceResult, optional=True),
  }
  OUTPUTS = {
    "confusion_matrix": ChannelParameter(type=ClassificationMetrics),
    "model_card": ChannelParameter(type=Markdown),
  }


class RunReport(base_component.BaseComponent):
  """The run summary's confusion matrix (class names, gate split) as a KFP ClassificationMetrics
  artifact and the model card as a KFP Markdown artifact, so that a Vertex AI / Kubeflow run
  shows them on its page; runs last, so the card says whether the model was pushed."""

  SPEC_CLASS = RunReportSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

  def __init__(
    self,
    pipeline_name: str,
    data_dir: Optional[Union[str, data_types.RuntimeParameter]] = None,
    **inputs: types.BaseChannel,
  ):
    super().__init__(
      spec=RunReportSpec(
        pipeline_name=pipeline_name,
        data_dir=data_dir,
        confusion_matrix=types.Channel(type=ClassificationMetrics),
        model_card=types.Channel(type=Markdown),
        **inputs,
      )
    )
