"""RunRecordOnExit: on Kubeflow / Vertex AI, the record of a run that did not reach RunReport.

The spec's exit handler (KubeflowV2DagRunner.set_exit_handler) runs after every run, whatever
ended it, with the run's final status as Vertex AI hands it over (PipelineTaskFinalStatus as
JSON: state, error, the job's resource name). A run that succeeded has RunReport's record; one
that failed or was cancelled gets its record here, as local runs do: run_summary.json (and
runs/<run id>.json) under the output dir, with its status, the failed task and the error.
"""

import json
import re
from typing import Any, Dict, Optional

from absl import logging
from tfx import v1 as tfx
from tfx.orchestration.kubeflow import decorators

from reporting import finish
from reporting.build import RunContext
from reporting.outcome import Outcome
from schemas.outcomes import Status

# Vertex AI's message for a failed DAG names its failed tasks, e.g. "The DAG failed because
# some tasks failed. The failed tasks are: [Trainer]."
_FAILED_TASKS = re.compile(r"failed tasks are: \[([^\]]*)\]")


def outcome(final_status: Dict[str, Any]) -> Optional[Outcome]:
  """How the run ended, from its final status; None for a run that succeeded."""
  state = final_status.get("state", "")
  if state == "SUCCEEDED":
    return None
  message = (final_status.get("error") or {}).get("message") or f"the run ended {state}"
  tasks = _FAILED_TASKS.search(message)
  stage = tasks.group(1).split(",")[0].strip() if tasks else None
  if state == "CANCELLED":
    return Outcome(Status.INTERRUPTED, error=f"the run was cancelled: {message}", stage=stage)
  return Outcome(Status.FAILED, error=message.splitlines()[0], stage=stage)


def run_id(final_status: Dict[str, Any]) -> str:
  """The job's id: the last part of its resource name (projects/.../pipelineJobs/<id>)."""
  name = final_status.get("pipelineJobResourceName") or final_status.get("pipelineJobName", "")
  return name.rsplit("/", 1)[-1] or "unknown-run"


def record_failed_run(final_status: str, pipeline_name: str, output_dir: str, data_dir: str):
  """Writes the record of a run that failed or was cancelled; returns it (None: succeeded)."""
  status = json.loads(final_status)
  ended = outcome(status)
  if ended is None:
    logging.info("The run succeeded: RunReport wrote its record")
    return None
  context = RunContext(pipeline_name=pipeline_name, output_dir=output_dir, data_dir=data_dir)
  record, _ = finish.finish_run(context, ended, run_id(status))
  return record


@decorators.exit_handler
def RunRecordOnExit(  # noqa: N802  (a component's name, as TFX names them)
  final_status: tfx.dsl.components.Parameter[str],
  pipeline_name: tfx.dsl.components.Parameter[str],
  output_dir: tfx.dsl.components.Parameter[str],
  data_dir: tfx.dsl.components.Parameter[str],
):
  record_failed_run(final_status, pipeline_name, output_dir, data_dir)
