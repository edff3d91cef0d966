"""Where the compiled pipeline runs on Google Cloud: Dataflow for the Beam stages, Vertex AI
training with GPUs for the Trainer, an optional Vertex endpoint for the pushed model."""

import dataclasses
import os
from typing import Any, Dict, List, Optional

DEFAULT_IMAGE = "gcr.io/tfx-oss-public/tfx:1.21.0"
SERVING_IMAGE = "us-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest"


def _vertex():
  """TFX's Vertex AI extension, imported when first used (kubeflow_runner's --help and flags
  need CloudConfig without TFX and TensorFlow)."""
  from tfx import v1 as tfx  # pylint: disable=import-outside-toplevel

  return tfx.extensions.google_cloud_ai_platform


def __getattr__(name: str):
  if name == "VERTEX":  # `from pipeline.cloud import VERTEX`
    return _vertex()
  raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclasses.dataclass
class CloudConfig:
  """Settings kubeflow_runner.py adds to PipelineConfig for Kubeflow / Vertex AI runs."""

  image: str = DEFAULT_IMAGE  # This project installed (Dockerfile); runs every task.
  project: Optional[str] = os.environ.get("GOOGLE_CLOUD_PROJECT")
  region: str = os.environ.get("GOOGLE_CLOUD_REGION", "us-central1")
  service_account: Optional[str] = None
  dataflow: bool = False  # ExampleGen, StatisticsGen, Transform, Evaluator on Dataflow.
  vertex_training: bool = False  # The Trainer as a Vertex AI custom job.
  machine_type: str = "n1-standard-8"
  accelerator_type: str = "NVIDIA_TESLA_T4"  # "" for none.
  accelerator_count: int = 1  # Per machine.
  workers: int = 1  # Machines training together (MultiWorkerMirroredStrategy); 1: no cluster.
  vertex_endpoint: Optional[str] = None  # Also deploy the pushed model to this endpoint.
  api_endpoint: Optional[str] = None  # Vertex AI's API address; None: the region's.

  def dataflow_args(self, temp_location: str) -> List[str]:
    """Beam arguments that run a stage on Dataflow with this image as the worker container."""
    args = [
      "--runner=DataflowRunner",
      f"--project={self.project}",
      f"--region={self.region}",
      f"--temp_location={temp_location}",
      "--experiments=use_runner_v2",
      f"--sdk_container_image={self.image}",
    ]
    if self.service_account:
      args.append(f"--service_account_email={self.service_account}")
    return args

  def training_errors(self) -> List[str]:
    """What is wrong with the training job's flags, one message each."""
    errors = []
    if self.workers < 1:
      errors.append(f"--workers must be at least 1, got {self.workers}")
    if self.accelerator_count < 0:
      errors.append(f"--accelerator-count must be at least 0, got {self.accelerator_count}")
    if self.accelerator_count > 0 and not self.accelerator_type:
      errors.append("--accelerator-count above 0 needs --accelerator-type (e.g. NVIDIA_TESLA_T4)")
    if self.workers > 1 and not self.vertex_training:
      errors.append("--workers above 1 needs --vertex-training (the workers are Vertex machines)")
    return errors

  def training_config(self) -> Dict[str, Any]:
    """The Vertex Trainer's custom_config keys: a chief (pool 0) and workers - 1 more machines
    (pool 1) of machine_type with accelerators; Vertex gives each its TF_CONFIG."""
    machine: Dict[str, Any] = {"machine_type": self.machine_type}
    if self.accelerator_type and self.accelerator_count:
      machine.update(
        accelerator_type=self.accelerator_type, accelerator_count=self.accelerator_count
      )
    pools = [
      {
        "machine_spec": machine,
        "replica_count": replicas,
        "container_spec": {"image_uri": self.image},
      }
      for replicas in (1, self.workers - 1)
      if replicas
    ]
    job: Dict[str, Any] = {"project": self.project, "worker_pool_specs": pools}
    if self.service_account:
      job["service_account"] = self.service_account
    vertex = _vertex()
    return {
      vertex.ENABLE_VERTEX_KEY: True,
      vertex.VERTEX_REGION_KEY: self.region,
      vertex.TRAINING_ARGS_KEY: job,
    }

  def endpoint_config(self) -> Dict[str, Any]:
    """The Vertex Pusher's custom_config: upload the model and deploy it to the endpoint."""
    vertex = _vertex()
    return {
      vertex.ENABLE_VERTEX_KEY: True,
      vertex.VERTEX_REGION_KEY: self.region,
      vertex.VERTEX_CONTAINER_IMAGE_URI_KEY: SERVING_IMAGE,
      vertex.SERVING_ARGS_KEY: {
        "project_id": self.project,
        "endpoint_name": self.vertex_endpoint,
        "machine_type": "n1-standard-4",
      },
    }
