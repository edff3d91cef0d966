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

from pipeline import cloud, configs, console, heavy_imports  # light: no TensorFlow
from schemas.outcomes import ExitCode
from schemas.settings import IMAGENET_WEIGHTS

DATA_ROOT = "data_root"  # The pipeline parameter: the folder ImageExampleGen ingests.


def _settings(argv: Optional[List[str]]):
  """(PipelineConfig, CloudConfig, CompileOptions) from the flags and the environment, checked
  before TensorFlow is imported; ConfigError otherwise."""
  config, cloud_config, options = configs.parse(
    argv,
    (configs.PipelineConfig, cloud.CloudConfig, cloud.CompileOptions),
    description="Compile the pipeline to a Kubeflow Pipelines v2 / Vertex AI spec, and "
    "optionally submit or schedule it on Vertex AI Pipelines.",
  )
  if config.data_dir is None:
    raise configs.ConfigError("--data-dir is required (a path the pipeline's workers can read)")
  if config.span_window > 1:
    # TFX 1.21's KubeflowV2DagRunner compiles only LatestArtifactStrategy (one artifact) and
    # LatestBlessedModelStrategy resolvers; the window's SpanRangeStrategy is refused.
    raise configs.ConfigError(
      "--span-window above 1 runs with local_runner.py only: TFX 1.21's Kubeflow V2 "
      "compiler supports no span-range resolver (a compiled run trains on the newest span)"
    )
  check_cloud_paths(config, cloud_config.image)
  if (
    cloud_config.dataflow or cloud_config.vertex_training or cloud_config.vertex_endpoint
  ) and not cloud_config.project:
    raise configs.ConfigError(
      "--dataflow, --vertex-training and --vertex-endpoint need "
      "--project (or $GOOGLE_CLOUD_PROJECT)"
    )
  return config, cloud_config, options


def check_cloud_paths(config, image: Optional[str]) -> None:
  """A spec meant for the cloud (gs:// output) needs an image with this project and no path
  that only exists on this machine; ConfigError otherwise."""
  if "://" not in config.output_dir:
    return
  if not image:
    raise configs.ConfigError(
      "--image is required with a gs:// --output-dir: the stock TFX image lacks this "
      "project's code, so every task would fail. Build and push one from the Dockerfile "
      "(README: Kubeflow Pipelines / Vertex AI) and pass it"
    )
  if config.initial_weights not in (None, IMAGENET_WEIGHTS) and "://" not in config.weights:
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


def _sources(config, options):
  """(source, infer_source) of the pipeline: listed from --data-dir and --infer-dir, or without
  a listing with --num-classes; ConfigError when they do not hold what the pipeline needs."""
  from pipeline import quiet  # noqa: PLC0415  (after the checks, as everything below)

  with heavy_imports.frozen():
    quiet.import_tensorflow(verbose=options.verbose)  # before anything below imports it
    from components.image_example_gen import sources  # noqa: PLC0415  (TensorFlow)
    from pipeline import inputs  # noqa: PLC0415  (TensorFlow)

  if not options.num_classes:
    return inputs.describe_input(config), inputs.describe_inference(config)
  # No listing at compile time: a plain class-folder tree.
  source = sources.Source(
    input_base=config.data_dir,
    input_config=sources.plain_input_config(),
    classes=[],
    presplit=False,
  )
  infer_source = config.infer_dir and sources.describe_unlabelled(config.infer_dir, check=False)
  return source, infer_source or None


def _compile(config, cloud_config, options, source, infer_source) -> str:
  """Writes the KFP v2 spec of create_pipeline to --compile; its absolute path."""
  with heavy_imports.frozen():
    from tfx import v1 as tfx  # noqa: PLC0415  (TFX, after the checks)

    from components.image_example_gen import spans  # noqa: PLC0415  (TFX)
    from pipeline import exit_handler, kfp_spec  # noqa: PLC0415  (TFX)
    from pipeline.pipeline import create_pipeline, kubeflow  # noqa: PLC0415  (TFX)

  spec_path = os.path.abspath(options.spec_path)
  runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
    config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
      default_image=cloud_config.container_image
    ),
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
      target=kubeflow(cloud_config, data_root),
      num_classes=options.num_classes,
      infer_source=infer_source,
    ),
    parameter_values={DATA_ROOT: source.input_base},
  )
  kfp_spec.edit_file(spec_path, by_span=spans.has_spec(config.data_dir))
  return spec_path


def _launch(spec_path: str, config, cloud_config, options) -> str:
  """Submits the spec as a Vertex AI PipelineJob, or schedules it: the name Vertex AI gave it
  (vertex.VertexError when it cannot)."""
  from pipeline import vertex  # noqa: PLC0415  (the Vertex AI SDK, only to submit)

  credentials, cloud_config.project = vertex.credentials(cloud_config.project)
  job = vertex.pipeline_job(spec_path, config, cloud_config, credentials)
  if options.schedule:
    return vertex.schedule(job, options.schedule, cloud_config, config.pipeline_name)
  return vertex.submit(job, cloud_config)


def main(argv: Optional[List[str]] = None) -> int:
  """Exit 0 with the spec written (and submitted or scheduled); 2 with one line on a usage
  error (before TensorFlow is imported when the flags, environment or paths are wrong) or a
  refusal from Vertex AI."""
  try:
    config, cloud_config, options = _settings(argv)
    source, infer_source = _sources(config, options)
  except configs.ConfigError as e:
    print(f"error: {e}", file=sys.stderr)
    return ExitCode.USAGE
  spec_path = _compile(config, cloud_config, options, source, infer_source)
  print(f"[kubeflow_runner] pipeline spec written to {spec_path}")
  if not (options.submit or options.schedule):
    return ExitCode.OK
  from pipeline import vertex  # noqa: PLC0415  (the Vertex AI SDK, only to submit)

  try:
    name = _launch(spec_path, config, cloud_config, options)
  except vertex.VertexError as e:
    print(f"error: {e}", file=sys.stderr)
    return ExitCode.USAGE
  print(f"[kubeflow_runner] {'schedule' if options.schedule else 'pipeline job'} created: {name}")
  return ExitCode.OK


if __name__ == "__main__":
  console.exit_now(main())
