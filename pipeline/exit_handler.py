"""The compiled spec's exit handler node: reporting/exit_handler.py's RunRecordOnExit with this
run's settings, fed the run's final status by Vertex AI."""

from tfx import v1 as tfx

from pipeline.configs import PipelineConfig
from reporting.exit_handler import RunRecordOnExit
from schemas import nodes


def on_exit(config: PipelineConfig):
  """The exit handler for KubeflowV2DagRunner.set_exit_handler."""
  return RunRecordOnExit(
    final_status=tfx.orchestration.experimental.FinalStatusStr(),
    pipeline_name=config.pipeline_name,
    output_dir=config.output_dir,
    data_dir=config.data_dir or "",
  ).with_id(nodes.EXIT_HANDLER)
