"""ImageExampleGen: a FileBasedExampleGen over a class-per-sub-folder image tree."""

from typing import Dict, Optional

from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2

from components.image_example_gen import executor

# <class>/<file>: the class is the first folder below input_base.
CLASS_FOLDER_PATTERN = "*/*"


class ImageExampleGen(FileBasedExampleGen):
  """Ingests images into tf.Examples, split by a hash of each file's relative path.

  The split a file lands in depends only on its path below `input_base`, so it is the same
  across runs and machines. Unreadable files are counted by reason, not fatal.
  """

  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

  def __init__(self, input_base: str, splits: Optional[Dict[str, int]] = None,
               max_image_pixels: int = 64_000_000,
               input_config: Optional[example_gen_pb2.Input] = None):
    """Args:
      input_base: root of the class-folder tree (local or gs://).
      splits: output split name -> hash-bucket weight; default train=8, eval=2.
      max_image_pixels: images with more pixels are rejected (decompression bombs).
      input_config: overrides the default `<class>/<file>` input pattern.
    """
    splits = splits or {"train": 8, "eval": 2}
    output_config = example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(
        splits=[example_gen_pb2.SplitConfig.Split(name=n, hash_buckets=w)
                for n, w in splits.items()],
        partition_feature_name=executor.FILE_NAME_KEY))
    super().__init__(
        input_base=input_base,
        input_config=input_config or example_gen_pb2.Input(splits=[
            example_gen_pb2.Input.Split(name="images", pattern=CLASS_FOLDER_PATTERN)]),
        output_config=output_config,
        custom_config=executor.pack_custom_config({"max_image_pixels": max_image_pixels}))
