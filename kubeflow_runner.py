"""Compiles the same create_pipeline for Kubeflow Pipelines v2 / Vertex AI Pipelines.

  python kubeflow_runner.py --compile pipeline.json --image IMAGE \\
      --data-dir gs://BUCKET/images --output-dir gs://BUCKET/tfx [--num-classes N]

The spec is written with KubeflowV2DagRunner; each task runs TFX's Kubeflow V2 executor
entrypoint inside IMAGE, which must have this project installed (setup.py).
"""

import os
import sys
from typing import List, Optional

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DEFAULT_IMAGE = "gcr.io/tfx-oss-public/tfx:1.21.0"


def main(argv: Optional[List[str]] = None) -> int:
  from pipeline import configs  # pylint: disable=import-outside-toplevel
  parser = configs.build_parser()
  parser.description = "Compile the pipeline to a Kubeflow Pipelines v2 / Vertex AI spec."
  parser.add_argument("--compile", dest="spec_path", default="pipeline.json",
                      help="Where to write the pipeline spec (default: %(default)s).")
  parser.add_argument("--image", default=DEFAULT_IMAGE,
                      help="Container image with this project installed (default: %(default)s).")
  parser.add_argument("--num-classes", type=int, default=None,
                      help="Number of classes; default: counted from --data-dir at compile time.")
  try:
    config, args = configs.parse(argv, parser)
    if config.data_dir is None:
      raise configs.ConfigError("--data-dir is required (a path the pipeline's workers can read)")
    from components.image_example_gen import sources  # pylint: disable=import-outside-toplevel
    from pipeline import inputs  # pylint: disable=import-outside-toplevel
    if args.num_classes:  # no listing at compile time: a plain class-folder tree
      source = sources.Source(config.data_dir, sources.plain_input_config(), [], False, False)
    else:
      source = inputs.describe_input(config)
  except configs.ConfigError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2

  from tfx import v1 as tfx  # pylint: disable=import-outside-toplevel
  from pipeline.pipeline import create_pipeline  # pylint: disable=import-outside-toplevel
  spec_path = os.path.abspath(args.spec_path)
  runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
      config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=args.image),
      output_dir=os.path.dirname(spec_path), output_filename=os.path.basename(spec_path))
  runner.run(create_pipeline(config, source, num_classes=args.num_classes))
  print(f"[kubeflow_runner] pipeline spec written to {spec_path}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
