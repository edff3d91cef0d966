"""ImageExampleGen: a FileBasedExampleGen over class-folder trees and CSV manifests."""

from typing import Dict, Optional, Sequence, Union

from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec
from tfx.orchestration import data_types
from tfx.proto import example_gen_pb2

from components.image_example_gen import driver, executor, sources
from schemas.features import FILE_NAME_KEY


class ImageExampleGen(FileBasedExampleGen):
  """Ingests images into tf.Examples; every file found is written or counted as rejected.

  A plain source is split by a hash of each file's path below the data root, so a file lands in
  the same split on every run and machine; a pre-split source keeps its train/eval/test folders.
  A `{SPAN}` in the data path picks the newest span, recorded on the Examples artifact.
  Byte-identical images are written once; identical bytes under two classes are rejected.
  The driver's fingerprint covers every file read, so the cache never hides a change.
  """

  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)
  DRIVER_CLASS = driver.Driver

  def __init__(
    self,
    data_dir: str,
    splits: Optional[Dict[str, int]] = None,
    max_image_pixels: int = 64_000_000,
    min_image_size: int = 1,
    classes: Sequence[str] = (),
    source: Optional[sources.Source] = None,
    input_base: Union[str, data_types.RuntimeParameter, None] = None,
    keep_duplicates: bool = False,
    unlabelled: bool = False,
  ):
    """Args:
    data_dir: class-folder tree or .csv manifest (local or gs://), may contain {SPAN}.
    splits: output split name -> hash-bucket weight (default train=8, eval=2); ignored for
      pre-split folders.
    max_image_pixels: images with more pixels are rejected before decoding.
    min_image_size: images with a side shorter than this are rejected.
    classes: if given, files of other classes are rejected as unknown_class.
    source: `sources.describe(data_dir, classes)`, when the caller has it already.
    input_base: overrides the source's root, e.g. with a RuntimeParameter of the same layout
      (Kubeflow runs); the input patterns stay relative to it.
    keep_duplicates: write byte-identical images of one class every time they occur (by
      default only the first in path order is, the others are rejected as duplicate).
    unlabelled: images to classify (`source`: sources.describe_unlabelled): any depth, no
      class, one output split; rejected files are counted and reported as for training data.
    """
    source = source or sources.describe(data_dir, classes)
    output_config = example_gen_pb2.Output()
    if not source.presplit:
      output_config.split_config.CopyFrom(
        example_gen_pb2.SplitConfig(
          splits=[
            example_gen_pb2.SplitConfig.Split(name=n, hash_buckets=w)
            for n, w in (splits or {"train": 8, "eval": 2}).items()
          ],
          partition_feature_name=FILE_NAME_KEY,
        )
      )
    super().__init__(
      input_base=input_base or source.input_base,
      input_config=source.input_config,
      output_config=output_config,
      custom_config=executor.pack_custom_config(
        {
          "max_image_pixels": max_image_pixels,
          "min_image_size": min_image_size,
          "classes": list(classes),
          "keep_duplicates": keep_duplicates,
          "skip_dirs": list(source.skip_dirs),
          "unlabelled": unlabelled,
        }
      ),
    )
