"""Vertex AI Pipelines: the PipelineJob and schedule requests for a compiled spec, and sending
them with the google-cloud-aiplatform client."""

from typing import Optional, Union

from google.cloud import aiplatform
from google.cloud.aiplatform_v1.types import pipeline_service, schedule_service

from pipeline.cloud import CloudConfig
from pipeline.configs import PipelineConfig

Request = Union[pipeline_service.CreatePipelineJobRequest, schedule_service.CreateScheduleRequest]


class VertexError(Exception):
  """Missing credentials or project, or a request Vertex AI refused; one line for people."""


def credentials(project: Optional[str]):
  """(application default credentials, project): the flag's project, else the credentials'."""
  import google.auth  # pylint: disable=import-outside-toplevel
  from google.auth import exceptions  # pylint: disable=import-outside-toplevel

  try:
    found, default_project = google.auth.default(
      scopes=["https://www.googleapis.com/auth/cloud-platform"]
    )
  except exceptions.DefaultCredentialsError:
    raise VertexError(
      "no Google Cloud credentials: run `gcloud auth application-default "
      "login` or set GOOGLE_APPLICATION_CREDENTIALS to a service account key"
    )
  if not (project or default_project):
    raise VertexError("no Google Cloud project: pass --project or set GOOGLE_CLOUD_PROJECT")
  return found, project or default_project


def pipeline_job(
  spec_path: str, config: PipelineConfig, cloud: CloudConfig, creds
) -> aiplatform.PipelineJob:
  """The PipelineJob of the compiled spec; its pipeline root is the config's (gs://...)."""
  return aiplatform.PipelineJob(
    display_name=config.pipeline_name,
    template_path=spec_path,
    pipeline_root=config.pipeline_root,
    enable_caching=config.enable_cache,
    project=cloud.project,
    location=cloud.region,
    credentials=creds,
  )


def _parent(cloud: CloudConfig) -> str:
  return f"projects/{cloud.project}/locations/{cloud.region}"


def submit_request(
  job: aiplatform.PipelineJob, cloud: CloudConfig
) -> pipeline_service.CreatePipelineJobRequest:
  """What PipelineJob.submit sends: the job, run as the service account."""
  # The SDK's public gca_resource is readable only once the job exists on Vertex AI.
  resource = type(job._gca_resource)(job._gca_resource)  # pylint: disable=protected-access
  if cloud.service_account:
    resource.service_account = cloud.service_account
  return pipeline_service.CreatePipelineJobRequest(
    parent=_parent(cloud), pipeline_job=resource, pipeline_job_id=job.job_id
  )


def schedule_request(
  job: aiplatform.PipelineJob, cron: str, cloud: CloudConfig
) -> schedule_service.CreateScheduleRequest:
  """What PipelineJob.create_schedule sends: the job's request under a cron, one run at a time."""
  schedule = aiplatform.PipelineJobSchedule(
    pipeline_job=job,
    display_name=f"{job._gca_resource.display_name}-schedule",  # pylint: disable=protected-access
    credentials=job.credentials,
    project=cloud.project,
    location=cloud.region,
  )
  resource = schedule._gca_resource  # pylint: disable=protected-access
  resource.cron = cron
  resource.max_concurrent_run_count = 1
  if cloud.service_account:
    resource.create_pipeline_job_request.pipeline_job.service_account = cloud.service_account
  return schedule_service.CreateScheduleRequest(parent=_parent(cloud), schedule=resource)


def send(job: aiplatform.PipelineJob, request: Request) -> str:
  """Sends the request with the aiplatform clients; returns the created resource's name."""
  from google.api_core import exceptions  # pylint: disable=import-outside-toplevel

  try:
    if isinstance(request, schedule_service.CreateScheduleRequest):
      client = aiplatform.PipelineJobSchedule._instantiate_client(  # pylint: disable=protected-access
        location=request.parent.split("/")[3], credentials=job.credentials
      )
      return client.create_schedule(request=request).name
    return job.api_client.create_pipeline_job(request=request).name
  except exceptions.GoogleAPICallError as e:
    raise VertexError(f"Vertex AI refused the request: {e.message or e}")
