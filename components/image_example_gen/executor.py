"""Beam executor: image files -> tf.Examples, with every file found accounted for.

Each file of the source (see sources.py) becomes one tf.Example holding the encoded bytes, the
class name, the path below the data root, the format, the decoded height, width and channels and
the sha256 of the bytes, or a rejection with a reason (see checks.py). `ingest_report.json`,
beside the splits, counts found = written + rejected per split and per class and lists every
rejected file; the totals are also custom properties of the Examples artifact.

The listing of every input split is streamed to a file in chunks, each file's output split
already assigned (listing.py); nothing holds it whole. Beam then (ingest.py)
1. reads, checks and hashes each chunk's files, spooling one small record per good file to a
   file per content-hash bucket (spool.py), with the bytes of small files,
2. decides each bucket's byte-identical files (the first in path order is written, the others
   are `duplicate`; identical bytes under different classes are all `conflicting_labels`,
   unless keep_duplicates) and writes the kept ones as tf.Examples, in content-hash order,
   which mixes the classes, without the all-to-all shuffle of TFX's WriteSplit,
3. names each split's files once every bundle is done.
Only file names and counts pass through Beam's group-bys (DirectRunner holds those in memory),
so memory does not grow with the number of files, and no image's bytes are ever grouped.
"""

import json
import math
import posixpath
from typing import Any, Dict, Optional

import apache_beam as beam
import tensorflow as tf
from google.protobuf import json_format, struct_pb2
from tfx.components.example_gen import base_example_gen_executor, write_split
from tfx.components.example_gen import utils as example_gen_utils
from tfx.components.util import examples_utils
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from components.image_example_gen import files, ingest, listing, progress
from components.image_example_gen.errors import InputError
from components.image_example_gen.report import (
  assemble_report,
  format_report,
  imbalance_warnings,
  training_data_problem,
)
from schemas import filenames, nodes

# What other modules and tests use from here.

_REPORT_DIR_KEY = "_ingest_report_dir"
FILES_PER_BUCKET = 1000  # content-hash buckets: about this many files each ...
MAX_BUCKETS = 256  # ... up to this many (spool files: Beam bundles x buckets)


class IngestError(InputError):
  """The data cannot train a model; carries the ingest report written before raising."""

  def __init__(self, message: str, report: Optional[Dict[str, Any]] = None):
    super().__init__(message)
    self.report = report or {}

  def __reduce__(self):
    return IngestError, (str(self), self.report)


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


def bucket_count(files_to_read: int) -> int:
  return max(1, min(MAX_BUCKETS, math.ceil(files_to_read / FILES_PER_BUCKET)))


def _configs(exec_properties: Dict[str, Any]):
  input_config, output_config = example_gen_pb2.Input(), example_gen_pb2.Output()
  proto_utils.json_to_proto(
    exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config
  )
  proto_utils.json_to_proto(
    exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY], output_config
  )
  return input_config, output_config


def _stage(exec_properties: Dict[str, Any]) -> str:
  """The console label of this ingestion: the training images' or the images to classify."""
  return (
    nodes.INFERENCE_EXAMPLE_GEN
    if unpack_custom_config(exec_properties).get("unlabelled")
    else nodes.EXAMPLE_GEN
  )


def write_listing(exec_properties: Dict[str, Any], folder: str) -> Dict[str, Any]:
  """Every input split's listing, streamed into folder (listing.write_listing)."""
  input_config, output_config = _configs(exec_properties)
  config = unpack_custom_config(exec_properties)
  return listing.write_listing(
    folder,
    exec_properties[standard_component_specs.INPUT_BASE_KEY].rstrip("/"),
    input_config,
    output_config.split_config,
    config.get("classes", []),
    config.get("skip_dirs", []),
    bool(config.get("unlabelled", False)),
  )


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
  """ExampleGen executor for image folders and manifests."""

  def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
    raise NotImplementedError(
      "ImageExampleGen reads every input split in one Beam graph "
      "(_ingest), to find duplicates across splits"
    )

  def GenerateExamplesByBeam(self, pipeline, exec_properties):
    raise NotImplementedError(
      "ImageExampleGen writes its splits itself (ingest.Decide), "
      "without WriteSplit's all-to-all shuffle"
    )

  def _ingest(self, pipeline, exec_properties: Dict[str, Any], prefixes: Dict[str, str]) -> int:
    """Lists every input split, then reads, deduplicates and writes them in one Beam graph:
    each split's files are named `prefixes[split]-SSSSS-of-NNNNN.gz`. Returns the number of
    files to read."""
    config = unpack_custom_config(exec_properties)
    report_dir = exec_properties[_REPORT_DIR_KEY]
    spool_dir, shards_dir = (posixpath.join(report_dir, d) for d in ("spool", "shards"))
    for folder in (spool_dir, shards_dir):
      tf.io.gfile.makedirs(folder)
    found = write_listing(exec_properties, report_dir)
    chunks = found.pop("chunks")
    # The listing's size is recorded apart from the outcomes, so that a lost file is noticed.
    with tf.io.gfile.GFile(posixpath.join(report_dir, "listing.json"), "w") as f:
      json.dump(found, f)
    if not found["listed"]:
      raise InputError(f"no files in {files.display(found['root'])}")
    # Only the chunks' places go into the job graph, which stays small for any number of files
    # (Dataflow refuses graphs over 10 MB; DirectRunner pickles them).
    inspected = (
      pipeline
      | "Chunks" >> beam.Create(chunks)
      | "Inspect"
      >> beam.ParDo(
        ingest.Inspect(
          posixpath.join(report_dir, listing.LISTING_FILE),
          spool_dir,
          bucket_count(found["to_read"]),
          int(config.get("max_image_pixels", 64_000_000)),
          int(config.get("min_image_size", 1)),
          0 if files.is_remote(spool_dir) else ingest.CARRY_BYTES,
          progress.progress_file(report_dir),
        )
      ).with_outputs(ingest.REJECTED, main="spooled")
    )
    _ = inspected[ingest.REJECTED] | "WriteRejected[inspect]" >> beam.io.WriteToText(
      posixpath.join(report_dir, "rejected-inspect")
    )
    decided = (
      inspected["spooled"]
      | "ByBucket" >> beam.GroupByKey()
      | "Decide"
      >> beam.ParDo(
        ingest.Decide(bool(config.get("keep_duplicates", False)), shards_dir)
      ).with_outputs(ingest.REJECTED, ingest.COUNTS, ingest.SHARDS)
    )
    _ = decided[ingest.REJECTED] | "WriteRejected[decide]" >> beam.io.WriteToText(
      posixpath.join(report_dir, "rejected-decide")
    )
    _ = (
      decided[ingest.COUNTS]
      | "SumCounts" >> beam.CombinePerKey(sum)
      | "FormatCounts" >> beam.Map(ingest.format_count)
      | "WriteCounts" >> beam.io.WriteToText(posixpath.join(report_dir, "counts"))
    )
    _ = (
      pipeline
      | "Splits" >> beam.Create(sorted(prefixes))
      | "Publish"
      >> beam.Map(ingest.publish, beam.pvalue.AsMultiMap(decided[ingest.SHARDS]), prefixes)
    )
    return found["to_read"]

  def _write_examples(self, examples, exec_properties: Dict[str, Any]) -> None:
    """BaseExampleGenExecutor.Do's writing, done by the ingest steps themselves.

    TFX's WriteSplit shuffles all-to-all before writing (DirectRunner holds every example in
    memory for it) and Beam's WriteToTFRecord costs twice what TensorFlow's writer does per
    example; the splits are written in the order made instead, which mixes the classes.
    """
    input_config, output_config = _configs(exec_properties)
    split_names = example_gen_utils.generate_output_split_names(input_config, output_config)
    examples.split_names = artifact_utils.encode_split_names(split_names)
    prefixes = {
      name: posixpath.join(
        artifact_utils.get_split_uri([examples], name), write_split.DEFAULT_TF_RECORD_FILE_NAME
      )
      for name in split_names
    }
    report_dir = exec_properties[_REPORT_DIR_KEY]
    with progress.Reporter(
      progress.progress_file(report_dir), stage=_stage(exec_properties)
    ) as reporter:
      with self._make_beam_pipeline() as pipeline:
        reporter.total = self._ingest(pipeline, exec_properties, prefixes)
    examples_utils.set_payload_format(
      examples,
      exec_properties.get(
        standard_component_specs.OUTPUT_DATA_FORMAT_KEY, example_gen_pb2.FORMAT_TF_EXAMPLE
      ),
    )
    examples_utils.set_file_format(
      examples, write_split.to_file_format_str(example_gen_pb2.FORMAT_TFRECORDS_GZIP)
    )

  def Do(self, input_dict, output_dict, exec_properties) -> None:
    examples = artifact_utils.get_single_instance(
      output_dict[standard_component_specs.EXAMPLES_KEY]
    )
    report_dir = posixpath.join(examples.uri, "_ingest_report_parts")
    exec_properties = dict(exec_properties, **{_REPORT_DIR_KEY: report_dir})
    self._log_startup(input_dict, output_dict, exec_properties)
    split_names = example_gen_utils.generate_output_split_names(*_configs(exec_properties))
    try:
      self._write_examples(examples, exec_properties)
    except InputError as e:  # nothing could be read: counts of what was found
      report = assemble_report(report_dir, split_names, check=False)
      self._publish(examples, report, exec_properties, error=str(e))
      raise IngestError(str(e), report) from e
    report = assemble_report(report_dir, split_names)
    config = unpack_custom_config(exec_properties)
    problem = (
      None  # images to classify: any number of them, of no class
      if config.get("unlabelled")
      else training_data_problem(report, config.get("classes") or report["classes"])
    )
    self._publish(examples, report, exec_properties, error=problem)
    if problem:
      raise IngestError(problem, report)

  @staticmethod
  def _publish(
    examples, report: Dict[str, Any], exec_properties: Dict[str, Any], error: Optional[str]
  ) -> None:
    """Writes ingest_report.json beside the splits, records the totals, prints a summary."""
    report["span"] = exec_properties.get(example_gen_utils.SPAN_PROPERTY_NAME)
    if report["span"] is not None:  # the property StatisticsGen copies onto its statistics
      examples.span = int(report["span"])
    report["warnings"] = imbalance_warnings(report["splits"])
    if error:
      report["error"] = error
    with tf.io.gfile.GFile(posixpath.join(examples.uri, filenames.INGEST_REPORT), "w") as f:
      json.dump(report, f, indent=1)
    report_dir = exec_properties[_REPORT_DIR_KEY]
    if tf.io.gfile.exists(report_dir):
      tf.io.gfile.rmtree(report_dir)
    examples.set_int_custom_property("images_found", report["images_found"])
    examples.set_int_custom_property("images_ingested", report["images_ingested"])
    examples.set_int_custom_property("images_rejected", sum(report["images_rejected"].values()))
    print(format_report(report, _stage(exec_properties)), flush=True)
