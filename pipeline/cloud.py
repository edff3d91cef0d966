"""Where the compiled pipeline runs on Google Cloud: Dataflow for the Beam stages, Vertex AI
training with GPUs for the Trainer, an optional Vertex endpoint for the pushed model; and what
kubeflow_runner.py does with the spec (CompileOptions). Both are settings like PipelineConfig's:
each a flag of kubeflow_runner.py and an IMAGE_PIPELINE_<FLAG> variable."""

import dataclasses
import os
from typing import Any, Dict, Iterator, List, Optional

from trainer_module.config import Settings, setting

DEFAULT_IMAGE = "gcr.io/tfx-oss-public/tfx:1.21.0"
SERVING_IMAGE = "us-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest"


def vertex():
  """TFX's Vertex AI extension, imported when first used: kubeflow_runner's --help and flags
  need CloudConfig without TFX and TensorFlow, and a local run never imports it
  (pipeline/cloud_extensions.py)."""
  from tfx import v1 as tfx  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)

  return tfx.extensions.google_cloud_ai_platform


@dataclasses.dataclass(kw_only=True)
class CloudConfig(Settings):
  """Settings kubeflow_runner.py adds to PipelineConfig for Kubeflow / Vertex AI runs. Unset
  ones are filled in when it is made: project and region from the environment (Google Cloud's
  own variables), accelerator_count from accelerator_type."""

  image: Optional[str] = setting(
    None,
    "Container image with this project installed, built from the Dockerfile and pushed to a "
    "registry the cloud can pull from; required with a gs:// --output-dir (local compiles "
    f"default to {DEFAULT_IMAGE}, which lacks this project: fine for tools.spec_runner only).",
    group="cloud",
  )
  project: Optional[str] = setting(
    None,
    "Google Cloud project (default: $GOOGLE_CLOUD_PROJECT, else the one of the application "
    "default credentials).",
    group="cloud",
  )
  region: Optional[str] = setting(
    None, "Google Cloud region (default: $GOOGLE_CLOUD_REGION, else us-central1).", group="cloud"
  )
  service_account: Optional[str] = setting(
    None,
    "Service account the pipeline, Dataflow and training jobs run as (default: the project's "
    "default).",
    group="cloud",
  )
  dataflow: bool = setting(
    False, "Run ExampleGen, StatisticsGen, Transform and Evaluator on Dataflow.", group="cloud"
  )
  vertex_training: bool = setting(
    False, "Run the Trainer as a Vertex AI custom job on --machine-type.", group="cloud"
  )
  machine_type: str = setting("n1-standard-8", "Vertex AI training machine.", group="cloud")
  accelerator_type: str = setting(
    "NVIDIA_TESLA_T4", "GPU type for --vertex-training, '' for none.", group="cloud"
  )
  accelerator_count: Optional[int] = setting(
    None,
    "Accelerators per machine (default: 1 with an --accelerator-type, else 0).",
    bounds=(0, None),
    group="cloud",
  )
  workers: int = setting(
    1,
    "Machines that train together with --vertex-training (MultiWorkerMirroredStrategy; each "
    "gets --machine-type and its accelerators).",
    bounds=(1, None),
    group="cloud",
  )
  vertex_endpoint: Optional[str] = setting(
    None,
    "Also upload the blessed model to Vertex AI and deploy it to this endpoint (default: none).",
    group="cloud",
  )
  api_endpoint: Optional[str] = setting(
    None,
    "Vertex AI API address for --submit/--schedule, e.g. a Private Service Connect endpoint; "
    "an http(s):// address is spoken to over REST (default: REGION-aiplatform.googleapis.com).",
    group="cloud",
  )

  def __post_init__(self):
    self.project = self.project or os.environ.get("GOOGLE_CLOUD_PROJECT")
    self.region = self.region or os.environ.get("GOOGLE_CLOUD_REGION", "us-central1")
    if self.accelerator_count is None:
      self.accelerator_count = int(bool(self.accelerator_type))

  @property
  def container_image(self) -> str:
    """The image every task runs in: --image, else TFX's own."""
    return self.image or DEFAULT_IMAGE

  def dataflow_args(self, temp_location: str) -> List[str]:
    """Beam arguments that run a stage on Dataflow with this image as the worker container."""
    args = [
      "--runner=DataflowRunner",
      f"--project={self.project}",
      f"--region={self.region}",
      f"--temp_location={temp_location}",
      "--experiments=use_runner_v2",
      f"--sdk_container_image={self.container_image}",
    ]
    if self.service_account:
      args.append(f"--service_account_email={self.service_account}")
    return args

  def errors(self) -> Iterator[str]:
    yield from super().errors()
    if self.accelerator_count > 0 and not self.accelerator_type:
      yield "--accelerator-count above 0 needs --accelerator-type (e.g. NVIDIA_TESLA_T4)"
    if self.workers > 1 and not self.vertex_training:
      yield "--workers above 1 needs --vertex-training (the workers are Vertex machines)"

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
        "container_spec": {"image_uri": self.container_image},
      }
      for replicas in (1, self.workers - 1)
      if replicas
    ]
    job: Dict[str, Any] = {"project": self.project, "worker_pool_specs": pools}
    if self.service_account:
      job["service_account"] = self.service_account
    extension = vertex()
    return {
      extension.ENABLE_VERTEX_KEY: True,
      extension.VERTEX_REGION_KEY: self.region,
      extension.TRAINING_ARGS_KEY: job,
    }

  def endpoint_config(self) -> Dict[str, Any]:
    """The Vertex Pusher's custom_config: upload the model and deploy it to the endpoint."""
    extension = vertex()
    return {
      extension.ENABLE_VERTEX_KEY: True,
      extension.VERTEX_REGION_KEY: self.region,
      extension.VERTEX_CONTAINER_IMAGE_URI_KEY: SERVING_IMAGE,
      extension.SERVING_ARGS_KEY: {
        "project_id": self.project,
        "endpoint_name": self.vertex_endpoint,
        "machine_type": "n1-standard-4",
      },
    }


@dataclasses.dataclass(kw_only=True)
class CompileOptions(Settings):
  """What kubeflow_runner.py does with the pipeline: where the spec goes, and whether it is
  submitted or scheduled."""

  spec_path: str = setting(
    "pipeline.json", "Where to write the pipeline spec.", flag="--compile", group="compile"
  )
  num_classes: Optional[int] = setting(
    None,
    "Number of classes; default: counted from --data-dir at compile time.",
    bounds=(2, None),
    group="compile",
  )
  submit: bool = setting(
    False, "Run the compiled spec now as a Vertex AI PipelineJob.", group="compile"
  )
  schedule: Optional[str] = setting(
    None,
    'Create a recurring Vertex AI schedule with this cron line, e.g. "0 3 * * *" (daily, 3 am '
    'UTC; prefix "TZ=Europe/Paris " for another zone) (default: none).',
    group="compile",
  )
  verbose: bool = setting(
    False, "Also show TensorFlow's own start-up and log lines on stderr.", group="compile"
  )

  def errors(self) -> Iterator[str]:
    yield from super().errors()
    if self.submit and self.schedule:
      yield "--submit and --schedule exclude each other: a schedule starts its own runs"
