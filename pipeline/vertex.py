"""Vertex AI Pipelines: a compiled spec run now or on a schedule, through the
google-cloud-aiplatform SDK's PipelineJob."""

import contextlib
from typing import Optional

from google.cloud import aiplatform

from pipeline.cloud import CloudConfig
from pipeline.configs import PipelineConfig


class VertexError(Exception):
  """Missing credentials or project, or a request Vertex AI refused; one line for people."""


def credentials(project: Optional[str]):
  """(application default credentials, project): the flag's project, else the credentials'."""
  import google.auth  # noqa: PLC0415  (the Google Cloud SDK: only to submit)
  from google.auth import exceptions  # noqa: PLC0415  (the Google Cloud SDK: only to submit)

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
  if cloud.api_endpoint:
    # An http(s):// address (a proxy, Private Service Connect) is spoken to over REST.
    aiplatform.init(
      api_endpoint=cloud.api_endpoint,
      api_transport="rest" if "://" in cloud.api_endpoint else None,
    )
  return aiplatform.PipelineJob(
    display_name=config.pipeline_name,
    template_path=spec_path,
    pipeline_root=config.pipeline_root,
    enable_caching=config.enable_cache,
    project=cloud.project,
    location=cloud.region,
    credentials=creds,
  )


@contextlib.contextmanager
def _refusals():
  from google.api_core import exceptions  # noqa: PLC0415  (the Google Cloud SDK: only to submit)

  try:
    yield
  except exceptions.GoogleAPICallError as e:
    raise VertexError(f"Vertex AI refused the request: {e.message or e}")


def submit(job: aiplatform.PipelineJob, cloud: CloudConfig) -> str:
  """Runs the job now, as the service account (PipelineJob.submit); the job's resource name."""
  with _refusals():
    job.submit(service_account=cloud.service_account)
  return job.resource_name


def schedule(job: aiplatform.PipelineJob, cron: str, cloud: CloudConfig, name: str) -> str:
  """A schedule that runs the job under `cron`, one run at a time
  (PipelineJob.create_schedule); the schedule's resource name."""
  with _refusals():
    created = job.create_schedule(
      cron=cron,
      display_name=f"{name}-schedule",
      max_concurrent_run_count=1,
      service_account=cloud.service_account,
    )
  return created.resource_name
