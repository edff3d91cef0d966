"""Beam executor: image files -> tf.Examples, with every rejected file counted by reason.

Each file under `input_base` that matches the input split pattern (`<class>/<file>` by default)
becomes one tf.Example holding the encoded bytes, the class name (its folder), the path relative
to `input_base`, and the decoded height, width and channels. Files that cannot be used are not
fatal: they are listed with a reason in `ingest_report.json` beside the splits, and the counts are
set as custom properties on the Examples artifact.
"""

import json
import posixpath
from typing import Any, Dict, Iterator, List, Optional, Tuple

import apache_beam as beam
import tensorflow as tf
from google.protobuf import json_format, struct_pb2
from tfx.components.example_gen import base_example_gen_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs

from trainer_module.constants import FILE_NAME_KEY, IMAGE_KEY, LABEL_KEY

REPORT_FILE = "ingest_report.json"
_REPORT_DIR_KEY = "_ingest_report_dir"
_REJECTED = "rejected"

# Leading bytes of each supported format; tf.io.decode_image reads all four.
_MAGIC = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpeg", b"GIF87a": "gif",
          b"GIF89a": "gif", b"BM": "bmp"}


def sniff_format(data: bytes) -> str:
  """The image format named by the file's leading bytes, or '' if none is supported."""
  return next((fmt for magic, fmt in _MAGIC.items() if data.startswith(magic)), "")


def pack_custom_config(values: Dict[str, Any]) -> example_gen_pb2.CustomConfig:
  """ExampleGen's custom_config is a proto Any; it carries a Struct of our settings."""
  config = example_gen_pb2.CustomConfig()
  config.custom_config.Pack(json_format.ParseDict(values, struct_pb2.Struct()))
  return config


def unpack_custom_config(exec_properties: Dict[str, Any]) -> Dict[str, Any]:
  raw = exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY)
  if not raw:
    return {}
  config = json_format.Parse(raw, example_gen_pb2.CustomConfig())
  values = struct_pb2.Struct()
  config.custom_config.Unpack(values)
  return json_format.MessageToDict(values)


def _bytes(value: bytes) -> tf.train.Feature:
  return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int(value: int) -> tf.train.Feature:
  return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def inspect_image(data: bytes, max_pixels: int) -> Tuple[Optional[str], Tuple[int, ...]]:
  """(rejection reason or None, decoded (height, width, channels)) of one file's bytes."""
  if not data:
    return "empty_file", ()
  if not sniff_format(data):
    return "not_an_image", ()
  try:
    shape = tuple(tf.io.decode_image(data, expand_animations=False).shape)
  except (tf.errors.InvalidArgumentError, tf.errors.UnknownError):
    return "decode_error", ()
  if shape[0] * shape[1] > max_pixels:
    return "too_many_pixels", shape
  return None, shape


class _FileToExample(beam.DoFn):
  """Reads and checks one file; emits a tf.Example or a tagged (reason, relative path)."""

  def __init__(self, input_base: str, max_pixels: int):
    self._input_base = input_base
    self._max_pixels = max_pixels

  def process(self, path: str) -> Iterator[Any]:
    relpath = posixpath.relpath(path, self._input_base)
    if any(part.startswith(".") for part in relpath.split("/")):
      yield beam.pvalue.TaggedOutput(_REJECTED, ("hidden_file", relpath))
      return
    with tf.io.gfile.GFile(path, "rb") as f:
      data = f.read()
    reason, shape = inspect_image(data, self._max_pixels)
    if reason:
      yield beam.pvalue.TaggedOutput(_REJECTED, (reason, relpath))
      return
    yield tf.train.Example(features=tf.train.Features(feature={
        IMAGE_KEY: _bytes(data),
        LABEL_KEY: _bytes(relpath.split("/", 1)[0].encode()),
        FILE_NAME_KEY: _bytes(relpath.encode()),
        "height": _int(shape[0]),
        "width": _int(shape[1]),
        "channels": _int(shape[2]),
    }))


def list_files(input_base: str, split_pattern: str) -> List[str]:
  """Files (not folders) under input_base matching the pattern, sorted."""
  matches = tf.io.gfile.glob(posixpath.join(input_base, split_pattern))
  return sorted(m for m in matches if not tf.io.gfile.isdir(m))


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def ImageToExample(pipeline: beam.Pipeline, exec_properties: Dict[str, Any],
                   split_pattern: str) -> beam.pvalue.PCollection:
  """Reads the image files of one input split into tf.Examples."""
  input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY].rstrip("/")
  custom_config = unpack_custom_config(exec_properties)
  paths = list_files(input_base, split_pattern)
  if not paths:
    raise ValueError(f"no files match {split_pattern!r} under {input_base}")
  # The listing's size, recorded apart from the outcomes so that a lost file is noticed.
  report_dir = exec_properties[_REPORT_DIR_KEY]
  tf.io.gfile.makedirs(report_dir)
  listed = posixpath.join(report_dir, f"listed-{len(tf.io.gfile.listdir(report_dir))}")
  with tf.io.gfile.GFile(listed, "w") as f:
    f.write(json.dumps(len(paths)) + "\n")
  results = (
      pipeline
      | "ListFiles" >> beam.Create(paths)
      | "Redistribute" >> beam.Reshuffle()
      | "Decode" >> beam.ParDo(
          _FileToExample(input_base, int(custom_config.get("max_image_pixels", 64_000_000)))
      ).with_outputs(_REJECTED, main="examples"))
  _ = (results[_REJECTED]
       | "FormatRejected" >> beam.MapTuple(lambda reason, path: json.dumps([reason, path]))
       | "WriteRejected" >> beam.io.WriteToText(
           posixpath.join(report_dir, "rejected")))
  return results["examples"]


def _class_of(example: tf.train.Example) -> str:
  return example.features.feature[LABEL_KEY].bytes_list.value[0].decode()


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
  """ExampleGen executor for image folders."""

  def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
    return ImageToExample

  def GenerateExamplesByBeam(self, pipeline, exec_properties):
    splits = super().GenerateExamplesByBeam(pipeline, exec_properties)
    for name, examples in splits.items():
      _ = (examples
           | f"ClassOf[{name}]" >> beam.Map(_class_of)
           | f"CountClasses[{name}]" >> beam.combiners.Count.PerElement()
           | f"FormatCounts[{name}]" >> beam.MapTuple(lambda c, n: json.dumps([c, n]))
           | f"WriteCounts[{name}]" >> beam.io.WriteToText(
               posixpath.join(exec_properties[_REPORT_DIR_KEY], f"counts-{name}")))
    return splits

  def Do(self, input_dict, output_dict, exec_properties) -> None:
    examples = artifact_utils.get_single_instance(
        output_dict[standard_component_specs.EXAMPLES_KEY])
    report_dir = posixpath.join(examples.uri, "_ingest_report_parts")
    exec_properties = dict(exec_properties, **{_REPORT_DIR_KEY: report_dir})
    super().Do(input_dict, output_dict, exec_properties)
    report = _assemble_report(report_dir, artifact_utils.decode_split_names(examples.split_names))
    with tf.io.gfile.GFile(posixpath.join(examples.uri, REPORT_FILE), "w") as f:
      json.dump(report, f, indent=1)
    tf.io.gfile.rmtree(report_dir)
    examples.set_int_custom_property("images_found", report["images_found"])
    examples.set_int_custom_property("images_ingested", report["images_ingested"])
    examples.set_int_custom_property("images_rejected", sum(report["images_rejected"].values()))
    rejected = ", ".join(f"{n} {r}" for r, n in report["images_rejected"].items()) or "none"
    print(f"[ImageExampleGen] found {report['images_found']} files: "
          f"{report['images_ingested']} ingested, rejected: {rejected}", flush=True)
    empty = [name for name, split in report["splits"].items() if not split["count"]]
    if empty:
      raise ValueError(f"split(s) {', '.join(empty)} received no images: "
                       f"{report['images_ingested']} ingested, rejected: {rejected}")


def _read_json_lines(pattern: str) -> Iterator[Any]:
  for path in tf.io.gfile.glob(pattern):
    with tf.io.gfile.GFile(path) as f:
      yield from (json.loads(line) for line in f if line.strip())


def _assemble_report(report_dir: str, split_names: List[str]) -> Dict[str, Any]:
  """Merges the Beam-written shards into one report."""
  rejected_files = sorted(_read_json_lines(posixpath.join(report_dir, "rejected*")),
                          key=lambda r: r[1])
  by_reason: Dict[str, int] = {}
  for reason, _ in rejected_files:
    by_reason[reason] = by_reason.get(reason, 0) + 1
  splits = {}
  for name in split_names:
    classes = dict(sorted(_read_json_lines(posixpath.join(report_dir, f"counts-{name}*"))))
    splits[name] = {"count": sum(classes.values()), "classes": classes}
  ingested = sum(s["count"] for s in splits.values())
  found = sum(_read_json_lines(posixpath.join(report_dir, "listed-*")))
  if found != ingested + len(rejected_files):
    raise RuntimeError(f"{found} files listed but {ingested} ingested + "
                       f"{len(rejected_files)} rejected: images were lost")
  return {
      "images_found": found,
      "images_ingested": ingested,
      "images_rejected": dict(sorted(by_reason.items())),
      "rejected_files": [{"path": p, "reason": r} for r, p in rejected_files],
      "splits": splits,
  }
