"""One LocalDagRunner run with a run id of our choosing, the Pusher never taken from the cache."""

from tfx import v1 as tfx
from tfx.dsl.compiler import compiler, constants
from tfx.orchestration.portable import runtime_parameter_utils
from tfx.proto.orchestration import pipeline_pb2

from pipeline import kfp_spec

# Checks the serving dir on disk every run: a cached push would claim a version that a user may
# have deleted since (Kubeflow: kfp_spec.ALWAYS_RUN).
ALWAYS_RUN = kfp_spec.ALWAYS_RUN


def compile_run(tfx_pipeline: tfx.dsl.Pipeline, run_id: str) -> pipeline_pb2.Pipeline:
  """The pipeline's IR for one run with this run id; the nodes in ALWAYS_RUN never cached."""
  # What LocalDagRunner.run does (TFX 1.21's IrBasedRunner.run), less packaging a module_file
  # into a wheel: the pipeline names its functions by module path (no module_file to package).
  ir = compiler.Compiler().compile(tfx_pipeline)
  runtime_parameter_utils.substitute_runtime_parameter(
    ir, {constants.PIPELINE_RUN_ID_PARAMETER_NAME: run_id}
  )
  for node in ir.nodes:
    if node.pipeline_node.node_info.id in ALWAYS_RUN:
      node.pipeline_node.execution_options.caching_options.enable_cache = False
  return ir


def run(tfx_pipeline: tfx.dsl.Pipeline, run_id: str) -> None:
  """Runs the pipeline with LocalDagRunner as run `run_id` (the pipeline_run context in MLMD)."""
  tfx.orchestration.LocalDagRunner().run_with_ir(compile_run(tfx_pipeline, run_id))
