"""Beam executor: image files -> tf.Examples, with every file found accounted for.

Each file of the source (see sources.py) becomes one tf.Example holding the encoded bytes, the
class name, the path below the data root, the format and the decoded height, width and channels,
or a rejection with a reason (see checks.py). `ingest_report.json`, beside the splits, counts
found = written + rejected per split and per class and lists every rejected file; the totals are
also custom properties of the Examples artifact.

The listing is written to a file in chunks of files, in an order that mixes classes (a hash of
each name); Beam reads the chunks, spreads them over workers and writes each split in that
order, without the all-to-all shuffle of TFX's WriteSplit (held in memory on DirectRunner).
"""

import hashlib
import json
import posixpath
from typing import Any, Dict, Iterator, List, Optional, Tuple

import apache_beam as beam
import tensorflow as tf
from google.protobuf import json_format, struct_pb2
from tfx.components.example_gen import base_example_gen_executor
from tfx.components.example_gen import utils as example_gen_utils
from tfx.components.example_gen import write_split
from tfx.components.util import examples_utils
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from components.image_example_gen import checks, sources
from trainer_module.constants import FILE_NAME_KEY, IMAGE_KEY, LABEL_KEY

REPORT_FILE = "ingest_report.json"
_REPORT_DIR_KEY = "_ingest_report_dir"
_REJECTED = "rejected"
MAX_CHUNK = 200  # files per Beam element, at most ...
MIN_CHUNKS = 64  # ... and at least this many elements, so that small inputs still spread out


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


def make_example(data: bytes, name: str, label: str, shape) -> tf.train.Example:
  return tf.train.Example(features=tf.train.Features(feature={
      IMAGE_KEY: _bytes(data),
      LABEL_KEY: _bytes(label.encode()),
      FILE_NAME_KEY: _bytes(name.encode()),
      "format": _bytes(checks.sniff_format(data).encode()),
      "height": _int(shape[0]),
      "width": _int(shape[1]),
      "channels": _int(shape[2]),
  }))


class _SplitOf:
  """The output split a file name hashes to, by ExampleGen's own partition function."""

  def __init__(self, split_config: example_gen_pb2.SplitConfig):
    self._config = split_config
    self._names = [s.name for s in split_config.splits]
    self._buckets = []
    for split in split_config.splits:
      self._buckets.append((self._buckets[-1] if self._buckets else 0) + split.hash_buckets)

  def __call__(self, name: str) -> str:
    keyed = tf.train.Example(features=tf.train.Features(feature={
        FILE_NAME_KEY: _bytes(name.encode())}))
    index = base_example_gen_executor._PartitionFn(  # pylint: disable=protected-access
        keyed, len(self._buckets), self._buckets, self._config)
    return self._names[index]


class _ToExamples(beam.DoFn):
  """Reads and checks a chunk of candidates (a JSON line); emits tf.Examples and rejections."""

  def __init__(self, max_pixels: int, min_size: int):
    self._max_pixels = max_pixels
    self._min_size = min_size

  def _check(self, candidate: sources.Candidate) -> Tuple[Optional[str], bytes, Tuple[int, ...]]:
    """(rejection reason or None, the file's bytes, decoded shape)."""
    if candidate.reason:
      return candidate.reason, b"", ()
    try:
      with tf.io.gfile.GFile(candidate.path, "rb") as f:
        data = f.read()
    except tf.errors.NotFoundError:
      return "missing_file", b"", ()
    reason, shape = checks.inspect_image(data, self._max_pixels, self._min_size)
    return reason, data, shape

  def process(self, line: str) -> Iterator[Any]:
    for candidate in (sources.Candidate(*fields) for fields in json.loads(line)):
      reason, data, shape = self._check(candidate)
      if reason:
        yield beam.pvalue.TaggedOutput(_REJECTED, (reason, candidate.name, candidate.label))
      else:
        yield make_example(data, candidate.name, candidate.label, shape)


def in_chunks(candidates: List[sources.Candidate],
              size: Optional[int] = None) -> List[List[sources.Candidate]]:
  """Candidates in a fixed order that mixes classes (a hash of each name), in chunks.

  A chunk is one Beam element, so Beam's per-element cost is paid per chunk rather than per
  file; the hashed order is the order the examples are written in.
  """
  size = size or min(MAX_CHUNK, max(1, len(candidates) // MIN_CHUNKS))
  ordered = sorted(candidates, key=lambda c: hashlib.sha256(c.name.encode()).digest())
  return [ordered[i:i + size] for i in range(0, len(ordered), size)]


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def ImageToExample(pipeline: beam.Pipeline, exec_properties: Dict[str, Any],
                   split_pattern: str) -> beam.pvalue.PCollection:
  """Reads the image files of one input split into tf.Examples."""
  input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY].rstrip("/")
  config = unpack_custom_config(exec_properties)
  candidates = sources.list_candidates(input_base, split_pattern, config.get("classes", []))
  if not candidates:
    raise sources.InputError(f"no files in {posixpath.join(input_base, split_pattern)}")
  input_config = example_gen_pb2.Input()
  proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY],
                            input_config)
  output_config = example_gen_pb2.Output()
  proto_utils.json_to_proto(exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY],
                            output_config)
  if output_config.split_config.splits:
    split_of = _SplitOf(output_config.split_config)
  else:  # pre-split input: the input split is the output split
    input_split = next(s.name for s in input_config.splits if s.pattern == split_pattern)
    split_of = lambda _: input_split  # pylint: disable=unnecessary-lambda-assignment
  # The listing's size is recorded apart from the outcomes, so that a lost file is noticed.
  # The chunks go through a file rather than beam.Create: the job graph stays small however
  # many files there are (Dataflow refuses graphs over 10 MB; DirectRunner pickles them).
  report_dir = exec_properties[_REPORT_DIR_KEY]
  tf.io.gfile.makedirs(report_dir)
  part = len(tf.io.gfile.listdir(report_dir))
  with tf.io.gfile.GFile(posixpath.join(report_dir, f"listed-{part}"), "w") as f:
    f.write(json.dumps(len(candidates)) + "\n")
  listing = posixpath.join(report_dir, f"chunks-{part}.jsonl")
  with tf.io.gfile.GFile(listing, "w") as f:
    for chunk in in_chunks(candidates):
      f.write(json.dumps(chunk) + "\n")
  label = split_pattern.replace("/", "_").replace("*", "")
  results = (
      pipeline
      | f"List[{label}]" >> beam.io.ReadFromText(listing)
      | f"Redistribute[{label}]" >> beam.Reshuffle()
      | f"Check[{label}]" >> beam.ParDo(_ToExamples(
          int(config.get("max_image_pixels", 64_000_000)), int(config.get("min_image_size", 1)))
      ).with_outputs(_REJECTED, main="examples"))
  _ = (results[_REJECTED]
       | f"FormatRejected[{label}]" >> beam.MapTuple(
           lambda reason, name, cls: json.dumps([split_of(name), cls, reason, name]))
       | f"WriteRejected[{label}]" >> beam.io.WriteToText(
           posixpath.join(report_dir, f"rejected-{part}")))
  return results["examples"]


def _class_of(example: tf.train.Example) -> str:
  return example.features.feature[LABEL_KEY].bytes_list.value[0].decode()


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
  """ExampleGen executor for image folders and manifests."""

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

  def _write_examples(self, examples, exec_properties: Dict[str, Any]) -> None:
    """BaseExampleGenExecutor.Do, less WriteSplit's Reshuffle before writing.

    That all-to-all shuffle holds every example in memory on DirectRunner; the splits are
    written in the order read instead, which in_chunks already mixes by a hash of the name.
    """
    input_config, output_config = example_gen_pb2.Input(), example_gen_pb2.Output()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY],
                              input_config)
    proto_utils.json_to_proto(exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY],
                              output_config)
    examples.split_names = artifact_utils.encode_split_names(
        example_gen_utils.generate_output_split_names(input_config, output_config))
    with self._make_beam_pipeline() as pipeline:
      for name, split in self.GenerateExamplesByBeam(pipeline, exec_properties).items():
        _ = (split
             | f"Serialize[{name}]" >> beam.ParDo(write_split.MaybeSerialize())
             | f"Write[{name}]" >> beam.io.WriteToTFRecord(
                 posixpath.join(artifact_utils.get_split_uri([examples], name),
                                write_split.DEFAULT_TF_RECORD_FILE_NAME), file_name_suffix=".gz"))
    examples_utils.set_payload_format(examples, exec_properties.get(
        standard_component_specs.OUTPUT_DATA_FORMAT_KEY, example_gen_pb2.FORMAT_TF_EXAMPLE))
    examples_utils.set_file_format(examples, write_split.to_file_format_str(
        example_gen_pb2.FORMAT_TFRECORDS_GZIP))

  def Do(self, input_dict, output_dict, exec_properties) -> None:
    examples = artifact_utils.get_single_instance(
        output_dict[standard_component_specs.EXAMPLES_KEY])
    report_dir = posixpath.join(examples.uri, "_ingest_report_parts")
    exec_properties = dict(exec_properties, **{_REPORT_DIR_KEY: report_dir})
    self._log_startup(input_dict, output_dict, exec_properties)
    self._write_examples(examples, exec_properties)
    report = _assemble_report(report_dir, artifact_utils.decode_split_names(examples.split_names))
    report["span"] = exec_properties.get(example_gen_utils.SPAN_PROPERTY_NAME)
    report["warnings"] = _imbalance_warnings(report["splits"])
    with tf.io.gfile.GFile(posixpath.join(examples.uri, REPORT_FILE), "w") as f:
      json.dump(report, f, indent=1)
    tf.io.gfile.rmtree(report_dir)
    examples.set_int_custom_property("images_found", report["images_found"])
    examples.set_int_custom_property("images_ingested", report["images_ingested"])
    examples.set_int_custom_property("images_rejected", sum(report["images_rejected"].values()))
    print(format_report(report), flush=True)
    _check_splits(report["splits"])


IMBALANCE_RATIO = 10


def _written_classes(split: Dict[str, Any]) -> Dict[str, int]:
  return {c: n["written"] for c, n in split["classes"].items() if n["written"]}


def _imbalance_warnings(splits: Dict[str, Any]) -> List[str]:
  """A warning when the largest training class outnumbers the smallest by IMBALANCE_RATIO."""
  counts = _written_classes(splits.get("train", {"classes": {}}))
  if len(counts) < 2:
    return []
  (small, fewest), (large, most) = min(counts.items(), key=lambda kv: kv[1]), max(
      counts.items(), key=lambda kv: kv[1])
  if most < IMBALANCE_RATIO * fewest:
    return []
  return [f"class imbalance in train: {large} has {most} images, {small} only {fewest} "
          f"({most / fewest:.0f}x); consider more {small} images or class weights"]


def _check_splits(splits: Dict[str, Any]) -> None:
  """Stops before training when a split is empty or holds classes that train lacks."""
  empty = [name for name, split in splits.items() if not split["written"]]
  if empty:
    raise sources.InputError(f"split(s) {', '.join(empty)} received no images")
  train = set(_written_classes(splits["train"])) if "train" in splits else set()
  for name, split in splits.items():
    unseen = sorted(set(_written_classes(split)) - train)
    if name != "train" and unseen:
      raise sources.InputError(f"class(es) {', '.join(unseen)} appear in {name} but not in train:"
                               " the model cannot learn them; add training images")


def format_report(report: Dict[str, Any]) -> str:
  rejected = ", ".join(f"{n} {r}" for r, n in report["images_rejected"].items()) or "none"
  lines = [f"[ImageExampleGen] found {report['images_found']} files: "
           f"{report['images_ingested']} ingested, rejected: {rejected}"]
  for name, split in report["splits"].items():
    lines.append(f"[ImageExampleGen]   {name}: {split['found']} found, {split['written']} written, "
                 f"{sum(split['rejected'].values())} rejected, {len(split['classes'])} classes")
  lines += [f"[ImageExampleGen] warning: {w}" for w in report.get("warnings", [])]
  return "\n".join(lines)


def _read_json_lines(pattern: str) -> Iterator[Any]:
  for path in tf.io.gfile.glob(pattern):
    with tf.io.gfile.GFile(path) as f:
      yield from (json.loads(line) for line in f if line.strip())


def _tally(split: Dict[str, Any], cls: str, written: int = 0, reason: str = "") -> None:
  entry = split["classes"].setdefault(cls, {"found": 0, "written": 0, "rejected": 0})
  count = written or 1
  entry["found"] += count
  split["found"] += count
  if reason:
    entry["rejected"] += 1
    split["rejected"][reason] = split["rejected"].get(reason, 0) + 1
  else:
    entry["written"] += written
    split["written"] += written


def _assemble_report(report_dir: str, split_names: List[str]) -> Dict[str, Any]:
  """Merges the Beam-written shards; checks found = written + rejected."""
  splits = {name: {"found": 0, "written": 0, "rejected": {}, "classes": {}}
            for name in split_names}
  for name in split_names:
    for cls, count in _read_json_lines(posixpath.join(report_dir, f"counts-{name}*")):
      _tally(splits[name], cls, written=count)
  rejected_files = sorted(_read_json_lines(posixpath.join(report_dir, "rejected-*")),
                          key=lambda r: r[3])
  by_reason: Dict[str, int] = {}
  for split, cls, reason, _ in rejected_files:
    _tally(splits[split], cls, reason=reason)
    by_reason[reason] = by_reason.get(reason, 0) + 1
  for split in splits.values():
    split["rejected"] = dict(sorted(split["rejected"].items()))
    split["classes"] = dict(sorted(split["classes"].items()))
  ingested = sum(s["written"] for s in splits.values())
  found = sum(_read_json_lines(posixpath.join(report_dir, "listed-*")))
  if found != ingested + len(rejected_files):
    raise RuntimeError(f"{found} files listed but {ingested} ingested + "
                       f"{len(rejected_files)} rejected: images were lost")
  return {
      "images_found": found,
      "images_ingested": ingested,
      "images_rejected": dict(sorted(by_reason.items())),
      "rejected_files": [{"path": p, "split": s, "class": c, "reason": r}
                         for s, c, r, p in rejected_files],
      "splits": splits,
  }
