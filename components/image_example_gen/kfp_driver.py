"""ImageExampleGen's driver for Kubeflow Pipelines v2 / Vertex AI (the task's preCacheCheck).

KubeflowV2DagRunner gives every FileBasedExampleGen TFX's own driver command
(`python -m tfx.orchestration.kubeflow.v2.file_based_example_gen.driver`), which builds TFX's
FileBasedInputProcessor directly: its fingerprint, the cache key Vertex compares, would cover
only what the split patterns' glob matches (`<class>/<entry>`, or the manifest alone).
pipeline/kfp_spec.py points the compiled spec's preCacheCheck at this module instead; it runs TFX's
driver with driver.InputProcessor in place of FileBasedInputProcessor, so the span, version and
fingerprint are those LocalDagRunner's ImageExampleGen driver computes, and everything else the
driver writes (ExecutorOutput, artifact metadata) is TFX's.

  python -m components.image_example_gen.kfp_driver --json_serialized_invocation_args '{...}'
"""

import functools
import types

from absl import app
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils
from tfx.orchestration.kubeflow.v2.file_based_example_gen import driver as tfx_kfp_driver

from components.image_example_gen import driver


def main(args) -> None:
  executor_input = pipeline_spec_pb2.ExecutorInput()
  json_format.Parse(
    args.json_serialized_invocation_args, executor_input, ignore_unknown_fields=True
  )
  inputs_spec = None
  if getattr(args, "json_serialized_inputs_spec_args", None):
    inputs_spec = pipeline_spec_pb2.ComponentInputsSpec()
    json_format.Parse(
      args.json_serialized_inputs_spec_args, inputs_spec, ignore_unknown_fields=True
    )
  exec_properties = kubeflow_v2_entrypoint_utils.parse_execution_properties(
    executor_input.inputs.parameter_values, executor_input.inputs.parameters, inputs_spec
  )
  # TFX's driver builds `input_processor.FileBasedInputProcessor(base, splits, range_config)`;
  # in this process that name is ours, with the listing options of this component.
  tfx_kfp_driver.input_processor = types.SimpleNamespace(
    FileBasedInputProcessor=functools.partial(
      driver.InputProcessor, options=driver.fingerprint_options(exec_properties)
    )
  )
  # TFX's driver entry point, with our input processor (no public hook takes one).
  tfx_kfp_driver._run_driver(executor_input, inputs_spec)  # noqa: SLF001  (as said above)


if __name__ == "__main__":
  app.run(main, flags_parser=tfx_kfp_driver._parse_flags)  # noqa: SLF001  (TFX's own flags)
