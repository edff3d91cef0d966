"""The IR of one local run: compiled with TFX's public compiler, our run id, the Pusher uncached."""

from tfx.dsl.compiler import constants

from components.image_example_gen import sources
from pipeline import configs, local_run
from pipeline.pipeline import create_pipeline
from tests import images


def _pipeline(tmp_path, *flags):
  png = images.encode(images.digit_pixels(1)[0][0], "png")
  images.write_tree(str(tmp_path / "data"), {f"{c}/{i}.png": png for c in "ab" for i in range(2)})
  (config,) = configs.parse(
    ["--data-dir", str(tmp_path / "data"), "--output-dir", str(tmp_path / "out"), *flags]
  )
  return create_pipeline(config, sources.describe(config.data_dir))


def test_the_run_id_is_ours_and_the_pusher_is_never_cached(tmp_path):
  tfx_pipeline = _pipeline(tmp_path)
  ir = local_run.compile_run(tfx_pipeline, "2026-01-02T03:04:05")
  assert ir.runtime_spec.pipeline_run_id.field_value.string_value == "2026-01-02T03:04:05"
  nodes = {n.pipeline_node.node_info.id: n.pipeline_node for n in ir.nodes}
  assert set(nodes) == {c.id for c in tfx_pipeline.components}
  assert set(local_run.ALWAYS_RUN) < set(nodes)
  for node_id, node in nodes.items():
    cached = node.execution_options.caching_options.enable_cache
    assert cached == (node_id not in local_run.ALWAYS_RUN), node_id
    # The run id reached every node's contexts: no runtime parameter is left to fill.
    assert constants.PIPELINE_RUN_ID_PARAMETER_NAME not in str(node.contexts)


def test_no_component_has_a_module_file_that_the_runner_would_package_first(tmp_path):
  # LocalDagRunner.run packages each component's module_file into a wheel before compiling;
  # compile_run does not, which is right only while the pipeline names functions by path.
  for component in _pipeline(tmp_path).components:
    assert not component.exec_properties.get("module_file"), component.id
