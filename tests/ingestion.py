"""ImageExampleGen in tests: its executor run as the component runs it, and the fingerprint its
driver records (the cache key)."""

from tfx.types import standard_artifacts, standard_component_specs

from components.image_example_gen import driver, executor, sources, spans
from components.image_example_gen.component import ImageExampleGen


def run_executor(
  data_dir,
  output_dir,
  splits=None,
  max_pixels=64_000_000,
  min_size=1,
  classes=(),
  beam_args=None,
  skip_dirs=(),
  keep_duplicates=False,
):
  """Runs the executor with the exec properties the component hands it."""
  component = ImageExampleGen(
    data_dir,
    splits=splits or {"train": 3, "eval": 1},
    max_image_pixels=max_pixels,
    min_image_size=min_size,
    classes=classes,
    keep_duplicates=keep_duplicates,
    source=sources.describe(data_dir, classes, skip_dirs),
  )
  examples = standard_artifacts.Examples()
  examples.uri = output_dir
  context = executor.Executor.Context(beam_pipeline_args=beam_args) if beam_args else None
  executor.Executor(context).Do(
    {}, {standard_component_specs.EXAMPLES_KEY: [examples]}, dict(component.exec_properties)
  )
  return examples


def fingerprint(data_dir, classes=(), skip_dirs=()):
  """The fingerprint the driver records for data_dir, with the component's own input config."""
  source = sources.describe(data_dir, classes, skip_dirs)
  _, _, splits = spans.resolve_span_and_version(source.input_base, source.input_config.splits)
  return driver.input_fingerprint(source.input_base, splits, classes, skip_dirs)
