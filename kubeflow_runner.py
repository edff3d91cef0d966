"""Compiles the same create_pipeline for Kubeflow Pipelines v2 / Vertex AI Pipelines, and
submits or schedules it on Vertex AI.

  python kubeflow_runner.py --compile pipeline.json --image IMAGE \\
      --data-dir gs://BUCKET/images --output-dir gs://BUCKET/tfx [--num-classes N] \\
      [--dataflow] [--vertex-training --accelerator-type NVIDIA_TESLA_T4 --workers N] \\
      [--submit | --schedule "0 3 * * *"] [--project P --region R --service-account SA]

The spec is written with KubeflowV2DagRunner; each task runs TFX's Kubeflow V2 executor
entrypoint inside IMAGE, which must have this project installed (Dockerfile, setup.py).
"""

import os
import sys
from typing import List, Optional

from schemas.outcomes import ExitCode

DATA_ROOT = "data_root"  # The pipeline parameter: the folder ImageExampleGen ingests.


def _parser():
  from pipeline import configs  # pylint: disable=import-outside-toplevel
  from pipeline.cloud import CloudConfig  # pylint: disable=import-outside-toplevel

  defaults = CloudConfig()
  parser = configs.build_parser()
  parser.description = (
    "Compile the pipeline to a Kubeflow Pipelines v2 / Vertex AI spec, and "
    "optionally submit or schedule it on Vertex AI Pipelines."
  )
  parser.add_argument(
    "--compile",
    dest="spec_path",
    default="pipeline.json",
    help="Where to write the pipeline spec (default: %(default)s).",
  )
  parser.add_argument(
    "--image",
    default=None,
    help="Container image with this project installed, built from the "
    "Dockerfile and pushed to a registry the cloud can pull from; required "
    f"with a gs:// --output-dir (local compiles default to {defaults.image}, "
    "which lacks this project: fine for tools.spec_runner only).",
  )
  parser.add_argument(
    "--num-classes",
    type=int,
    default=None,
    help="Number of classes; default: counted from --data-dir at compile time.",
  )
  parser.add_argument(
    "--project",
    default=defaults.project,
    help="Google Cloud project (default: $GOOGLE_CLOUD_PROJECT, else the one "
    "of the application default credentials).",
  )
  parser.add_argument("--region", default=defaults.region, help="(default: %(default)s)")
  parser.add_argument(
    "--service-account",
    default=None,
    help="Service account the pipeline, Dataflow and training jobs run as.",
  )
  parser.add_argument(
    "--dataflow",
    action="store_true",
    help="Run ExampleGen, StatisticsGen, Transform and Evaluator on Dataflow.",
  )
  parser.add_argument(
    "--vertex-training",
    action="store_true",
    help="Run the Trainer as a Vertex AI custom job on --machine-type.",
  )
  parser.add_argument(
    "--machine-type", default=defaults.machine_type, help="(default: %(default)s)"
  )
  parser.add_argument(
    "--accelerator-type",
    default=defaults.accelerator_type,
    help="GPU type for --vertex-training, '' for none (default: %(default)s).",
  )
  parser.add_argument(
    "--accelerator-count",
    type=int,
    default=None,
    help="Accelerators per machine (default: 1 with an --accelerator-type, else 0).",
  )
  parser.add_argument(
    "--workers",
    type=int,
    default=defaults.workers,
    help="Machines that train together with --vertex-training (MultiWorkerMirroredStrategy; "
    "each gets --machine-type and its accelerators) (default: %(default)s).",
  )
  parser.add_argument(
    "--vertex-endpoint",
    default=None,
    help="Also upload the blessed model to Vertex AI and deploy it to this endpoint.",
  )
  parser.add_argument(
    "--api-endpoint",
    default=None,
    help="Vertex AI API address for --submit/--schedule, e.g. a Private Service Connect "
    "endpoint; an http(s):// address is spoken to over REST (default: REGION-aiplatform."
    "googleapis.com).",
  )
  action = parser.add_mutually_exclusive_group()
  action.add_argument(
    "--submit", action="store_true", help="Run the compiled spec now as a Vertex AI PipelineJob."
  )
  action.add_argument(
    "--schedule",
    metavar="CRON",
    help='Create a recurring Vertex AI schedule, e.g. "0 3 * * *" (daily, 3 '
    'am UTC; prefix "TZ=Europe/Paris " for another zone).',
  )
  parser.add_argument(
    "--verbose",
    action="store_true",
    help="Also show TensorFlow's own start-up and log lines on stderr.",
  )
  return parser


def cloud_config(args):
  from pipeline.cloud import DEFAULT_IMAGE, CloudConfig  # pylint: disable=import-outside-toplevel

  return CloudConfig(
    image=args.image or DEFAULT_IMAGE,
    project=args.project,
    region=args.region,
    service_account=args.service_account,
    dataflow=args.dataflow,
    vertex_training=args.vertex_training,
    machine_type=args.machine_type,
    accelerator_type=args.accelerator_type,
    accelerator_count=(
      args.accelerator_count
      if args.accelerator_count is not None
      else int(bool(args.accelerator_type))
    ),
    workers=args.workers,
    vertex_endpoint=args.vertex_endpoint,
    api_endpoint=args.api_endpoint,
  )


def check_cloud_paths(config, image: Optional[str]) -> None:
  """A spec meant for the cloud (gs:// output) needs an image with this project and no path
  that only exists on this machine; ConfigError otherwise."""
  from pipeline import configs  # pylint: disable=import-outside-toplevel

  if "://" not in config.output_dir:
    return
  if not image:
    raise configs.ConfigError(
      "--image is required with a gs:// --output-dir: the stock TFX image lacks this "
      "project's code, so every task would fail. Build and push one from the Dockerfile "
      "(README: Kubeflow Pipelines / Vertex AI) and pass it"
    )
  if config.weights and config.weights != "imagenet" and "://" not in config.weights:
    raise configs.ConfigError(
      f"--weights {config.weights} is a file on this machine, which cloud tasks cannot read: "
      "copy it to gs:// and pass that path, or pass --weights imagenet"
    )
  for flag, path in (("--data-dir", config.data_dir), ("--infer-dir", config.infer_dir)):
    if path and "://" not in path:
      raise configs.ConfigError(
        f"{flag} {path} is a folder on this machine, which cloud tasks cannot read: pass a "
        "gs:// path"
      )


def main(argv: Optional[List[str]] = None) -> int:
  from pipeline import configs  # pylint: disable=import-outside-toplevel

  try:
    config, args = configs.parse(argv, _parser())
    if config.data_dir is None:
      raise configs.ConfigError("--data-dir is required (a path the pipeline's workers can read)")
    if config.span_window > 1:
      # TFX 1.21's KubeflowV2DagRunner compiles only LatestArtifactStrategy (one artifact) and
      # LatestBlessedModelStrategy resolvers; the window's SpanRangeStrategy is refused.
      raise configs.ConfigError(
        "--span-window above 1 runs with local_runner.py only: TFX 1.21's Kubeflow V2 "
        "compiler supports no span-range resolver (a compiled run trains on the newest span)"
      )
    cloud = cloud_config(args)
    if cloud.training_errors():
      raise configs.ConfigError("; ".join(cloud.training_errors()))
    check_cloud_paths(config, args.image)
    if (cloud.dataflow or cloud.vertex_training or cloud.vertex_endpoint) and not cloud.project:
      raise configs.ConfigError(
        "--dataflow, --vertex-training and --vertex-endpoint need "
        "--project (or $GOOGLE_CLOUD_PROJECT)"
      )
    from pipeline import quiet  # pylint: disable=import-outside-toplevel

    quiet.import_tensorflow(verbose=args.verbose)  # before anything below imports it
    from components.image_example_gen import sources  # pylint: disable=import-outside-toplevel
    from pipeline import inputs  # pylint: disable=import-outside-toplevel

    if args.num_classes:  # no listing at compile time: a plain class-folder tree
      source = sources.Source(
        input_base=config.data_dir,
        input_config=sources.plain_input_config(),
        classes=[],
        presplit=False,
      )
      infer_source = config.infer_dir and sources.describe_unlabelled(config.infer_dir, check=False)
    else:
      source = inputs.describe_input(config)
      infer_source = inputs.describe_inference(config)
  except configs.ConfigError as e:
    print(f"error: {e}", file=sys.stderr)
    return ExitCode.USAGE

  from tfx import v1 as tfx  # pylint: disable=import-outside-toplevel

  from components.image_example_gen import spans  # pylint: disable=import-outside-toplevel
  from pipeline import exit_handler, kfp_spec  # noqa: PLC0415
  from pipeline.pipeline import create_pipeline, kubeflow  # pylint: disable=import-outside-toplevel

  spec_path = os.path.abspath(args.spec_path)
  runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
    config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=cloud.image),
    output_dir=os.path.dirname(spec_path),
    output_filename=os.path.basename(spec_path),
  )
  data_root = tfx.dsl.experimental.RuntimeParameter(
    name=DATA_ROOT, ptype=str, default=source.input_base
  )
  runner.set_exit_handler(exit_handler.on_exit(config))
  runner.run(
    create_pipeline(
      config,
      source,
      target=kubeflow(cloud, data_root),
      num_classes=args.num_classes,
      infer_source=infer_source or None,
    ),
    parameter_values={DATA_ROOT: source.input_base},
  )
  kfp_spec.edit_file(spec_path, by_span=spans.has_spec(config.data_dir))
  print(f"[kubeflow_runner] pipeline spec written to {spec_path}")
  if not (args.submit or args.schedule):
    return ExitCode.OK

  from pipeline import vertex  # pylint: disable=import-outside-toplevel

  try:
    credentials, project = vertex.credentials(cloud.project)
    cloud.project = project
    job = vertex.pipeline_job(spec_path, config, cloud, credentials)
    name = (
      vertex.schedule(job, args.schedule, cloud, config.pipeline_name)
      if args.schedule
      else vertex.submit(job, cloud)
    )
  except vertex.VertexError as e:
    print(f"error: {e}", file=sys.stderr)
    return ExitCode.USAGE
  print(f"[kubeflow_runner] {'schedule' if args.schedule else 'pipeline job'} created: {name}")
  return ExitCode.OK


if __name__ == "__main__":
  sys.exit(main())
