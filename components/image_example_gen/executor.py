"""Beam executor: image files -> tf.Examples, with every file found accounted for.

Each file of the source (see sources.py) becomes one tf.Example holding the encoded bytes, the
class name, the path below the data root, the format, the decoded height, width and channels and
the sha256 of the bytes, or a rejection with a reason (see checks.py). `ingest_report.json`,
beside the splits, counts found = written + rejected per split and per class and lists every
rejected file; the totals are also custom properties of the Examples artifact.

The listing of every input split is written to a file in chunks of files, in an order that mixes
classes (a hash of each name), with each file's output split already assigned (a hash of its
path, or its pre-split folder). Beam then
1. reads and checks each file and hashes its bytes (only small records travel on),
2. groups the records by content hash: byte-identical files are written once (the first in
   path order; the others are rejected as `duplicate`, naming the kept file) unless
   keep_duplicates, and identical bytes under different classes are all rejected as
   `conflicting_labels`, so the same image never sits in two splits or under two labels,
3. groups the kept records by chunk and reads them again, in the chunk's order, into
   tf.Examples (bytes that changed since step 1 are rejected as `changed_during_ingest`),
4. writes each split in that order, without the all-to-all shuffle of TFX's WriteSplit (held
   in memory on DirectRunner); no image's bytes are ever grouped.
"""

import hashlib
import json
import os
import posixpath
import stat
from typing import Any, Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple

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
SHA256_KEY = "sha256"  # hex digest of the image bytes
_REPORT_DIR_KEY = "_ingest_report_dir"
_REJECTED = "rejected"
MAX_CHUNK = 200  # files per Beam element, at most ...
MIN_CHUNKS = 64  # ... and at least this many elements, so that small inputs still spread out
MAX_LISTED = 10  # names listed in one line or one rejection's detail, at most


class IngestError(sources.InputError):
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


def _bytes(value: bytes) -> tf.train.Feature:
  return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int(value: int) -> tf.train.Feature:
  return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def make_example(data: bytes, name: str, label: str, shape,
                 sha256: Optional[str] = None) -> tf.train.Example:
  return tf.train.Example(features=tf.train.Features(feature={
      IMAGE_KEY: _bytes(data),
      LABEL_KEY: _bytes(label.encode()),
      FILE_NAME_KEY: _bytes(sources.encode(name)),  # the file system's bytes, UTF-8 or not
      "format": _bytes(checks.sniff_format(data).encode()),
      "height": _int(shape[0]),
      "width": _int(shape[1]),
      "channels": _int(shape[2]),
      SHA256_KEY: _bytes((sha256 or hashlib.sha256(data).hexdigest()).encode()),
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
        FILE_NAME_KEY: _bytes(sources.encode(name))}))
    index = base_example_gen_executor._PartitionFn(  # pylint: disable=protected-access
        keyed, len(self._buckets), self._buckets, self._config)
    return self._names[index]


class Row(NamedTuple):  # a tuple, so that a chunk of them is a JSON list
  path: str
  name: str             # below the split root: reported, and hashed for the split
  label: str
  reason: Optional[str]
  split: str            # the output split
  key: str              # below the data root: "path order" among identical files


def read_file(path: str) -> Tuple[Optional[str], bytes]:
  """(rejection reason or None, bytes). Never blocks on a FIFO put in place after listing."""
  if sources.is_remote(path):
    try:
      with tf.io.gfile.GFile(path, "rb") as f:
        return None, f.read()
    except tf.errors.NotFoundError:
      return "missing_file", b""
    except tf.errors.OpError:
      return "unreadable_file", b""
  try:
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
  except OSError as e:
    return sources.os_reason(e), b""
  with os.fdopen(fd, "rb") as f:
    if not stat.S_ISREG(os.fstat(fd).st_mode):
      return "not_a_regular_file", b""
    try:
      return None, f.read()
    except OSError as e:
      return sources.os_reason(e), b""


def _rejected(row: Row, reason: str, detail: Optional[Dict[str, Any]] = None) -> Any:
  """A rejection as Beam carries it: one JSON line (ASCII: names that are not UTF-8 keep their
  bytes as escapes, which Beam's coders could not carry in a str)."""
  return beam.pvalue.TaggedOutput(
      _REJECTED, json.dumps([row.split, row.label, reason, row.name, detail]))


def _ref(row: Row) -> Dict[str, str]:
  return {"path": row.name, "class": row.label, "split": row.split}


def _record(row: Row, chunk: int, pos: int, shape, sha256: str = "") -> str:
  """What the group-bys hold per image: one compact JSON string (DirectRunner keeps them in
  memory), never the image's bytes."""
  return json.dumps([list(row), chunk, pos, list(shape), sha256], separators=(",", ":"))


def _parse(record: str) -> Tuple[Row, int, int, List[int], str]:
  row, chunk, pos, shape, sha256 = json.loads(record)
  return Row(*row), chunk, pos, shape, sha256


class _Inspect(beam.DoFn):
  """Reads and checks a chunk of rows; emits (sha256, small record) or rejections."""

  def __init__(self, max_pixels: int, min_size: int):
    self._max_pixels = max_pixels
    self._min_size = min_size

  def process(self, line: str) -> Iterator[Any]:
    chunk = json.loads(line)
    for pos, row in enumerate(Row(*fields) for fields in chunk["rows"]):
      reason, data, shape = row.reason, b"", ()
      if not reason:
        reason, data = read_file(row.path)
      if not reason:
        reason, shape = checks.inspect_image(data, self._max_pixels, self._min_size)
      if reason:
        yield _rejected(row, reason)
        continue
      yield hashlib.sha256(data).hexdigest(), _record(row, chunk["chunk"], pos, shape)


class _Decide(beam.DoFn):
  """One content hash's files: keep the first in path order, or reject them all."""

  def __init__(self, keep_duplicates: bool):
    self._keep_duplicates = keep_duplicates

  def process(self, item: Tuple[Any, Iterable[Any]]) -> Iterator[Any]:
    sha256, records = item
    records = sorted(map(_parse, records), key=lambda r: sources.encode(r[0].key))
    rows = [r[0] for r in records]
    if len({row.label for row in rows}) > 1:
      for row in rows:
        others = [_ref(other) for other in rows if other is not row]
        yield _rejected(row, "conflicting_labels",
                        {"conflicts_with": others[:MAX_LISTED], "identical_files": len(rows)})
      return
    kept = records if self._keep_duplicates else records[:1]
    for row in rows[len(kept):]:
      yield _rejected(row, "duplicate", {"duplicate_of": _ref(rows[0])})
    for row, chunk, pos, shape, _ in kept:
      yield chunk, _record(row, chunk, pos, shape, sha256)


class _ReadKept(beam.DoFn):
  """Reads a chunk's kept files again, in the chunk's order, into (split, tf.Example)."""

  def process(self, item: Tuple[Any, Iterable[Any]]) -> Iterator[Any]:
    _, records = item
    for row, _, _, shape, sha256 in sorted(map(_parse, records), key=lambda r: r[2]):
      reason, data = read_file(row.path)
      if not reason and hashlib.sha256(data).hexdigest() != sha256:
        reason = "changed_during_ingest"
      if reason:
        yield _rejected(row, reason)
      else:
        yield row.split, make_example(data, row.name, row.label, shape, sha256)


def in_chunks(candidates: Sequence[Any], size: Optional[int] = None) -> List[List[Any]]:
  """Candidates (anything with a .name) in a fixed order that mixes classes (a hash of each
  name), in chunks.

  A chunk is one Beam element, so Beam's per-element cost is paid per chunk rather than per
  file; the hashed order is the order the examples are written in.
  """
  size = size or min(MAX_CHUNK, max(1, len(candidates) // MIN_CHUNKS))
  ordered = sorted(candidates, key=lambda c: hashlib.sha256(sources.encode(c.name)).digest())
  return [ordered[i:i + size] for i in range(0, len(ordered), size)]


def _configs(exec_properties: Dict[str, Any]):
  input_config, output_config = example_gen_pb2.Input(), example_gen_pb2.Output()
  proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY],
                            input_config)
  proto_utils.json_to_proto(exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY],
                            output_config)
  return input_config, output_config


def list_input(exec_properties: Dict[str, Any]) -> Tuple[List[Row], Dict[str, Any]]:
  """Every input split's listing as Rows with their output split, and what else was found."""
  input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY].rstrip("/")
  input_config, output_config = _configs(exec_properties)
  config = unpack_custom_config(exec_properties)
  classes, skip_dirs = config.get("classes", []), config.get("skip_dirs", [])
  split_of = _SplitOf(output_config.split_config) if output_config.split_config.splits else None
  rows, found_classes, skipped = [], set(), []
  for split in input_config.splits:
    listing = sources.list_split(input_base, split.pattern, classes, skip_dirs)
    found_classes.update(listing.classes)
    skipped += [posixpath.join(sources.split_root(split.pattern), s) for s in listing.skipped]
    prefix = "" if split.pattern.lower().endswith(".csv") else sources.split_root(split.pattern)
    for c in listing.candidates:
      rows.append(Row(c.path, c.name, c.label, c.reason,
                      split_of(c.name) if split_of else split.name,
                      posixpath.join(prefix, c.name) if prefix else c.name))
  return rows, {"classes": sorted(found_classes), "skipped": skipped,
                "root": posixpath.join(input_base, sources.split_root(
                    input_config.splits[0].pattern)) if input_config.splits else input_base}


def _class_of(example: tf.train.Example) -> str:
  return example.features.feature[LABEL_KEY].bytes_list.value[0].decode()


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
  """ExampleGen executor for image folders and manifests."""

  def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
    raise NotImplementedError("ImageExampleGen reads every input split in "
                              "GenerateExamplesByBeam, to find duplicates across splits")

  def GenerateExamplesByBeam(self, pipeline, exec_properties):
    """Lists every input split, then reads, deduplicates and splits them in one Beam graph."""
    input_config, output_config = _configs(exec_properties)
    split_names = example_gen_utils.generate_output_split_names(input_config, output_config)
    config = unpack_custom_config(exec_properties)
    report_dir = exec_properties[_REPORT_DIR_KEY]
    tf.io.gfile.makedirs(report_dir)
    rows, found = list_input(exec_properties)
    # The listing's size is recorded apart from the outcomes, so that a lost file is noticed.
    with tf.io.gfile.GFile(posixpath.join(report_dir, "listing.json"), "w") as f:
      json.dump(dict(found, listed=len(rows)), f)
    if not rows:
      raise sources.InputError(f"no files in {sources.display(found['root'])}")
    # The chunks go through a file rather than beam.Create: the job graph stays small however
    # many files there are (Dataflow refuses graphs over 10 MB; DirectRunner pickles them).
    listing = posixpath.join(report_dir, "chunks.jsonl")
    with tf.io.gfile.GFile(listing, "w") as f:
      for i, chunk in enumerate(in_chunks(rows)):
        f.write(json.dumps({"chunk": i, "rows": chunk}) + "\n")

    inspected = (
        pipeline
        | "List" >> beam.io.ReadFromText(listing)
        | "Redistribute" >> beam.Reshuffle()
        | "Inspect" >> beam.ParDo(_Inspect(
            int(config.get("max_image_pixels", 64_000_000)),
            int(config.get("min_image_size", 1)))).with_outputs(_REJECTED, main="records"))
    decided = (
        inspected["records"]
        | "ByContent" >> beam.GroupByKey()
        | "Deduplicate" >> beam.ParDo(_Decide(bool(config.get("keep_duplicates", False))))
        .with_outputs(_REJECTED, main="kept"))
    read = (
        decided["kept"]
        | "ByChunk" >> beam.GroupByKey()
        | "Read" >> beam.ParDo(_ReadKept()).with_outputs(_REJECTED, main="examples"))
    _ = ((inspected[_REJECTED], decided[_REJECTED], read[_REJECTED])
         | "AllRejected" >> beam.Flatten()
         | "WriteRejected" >> beam.io.WriteToText(posixpath.join(report_dir, "rejected")))
    parts = read["examples"] | "BySplit" >> beam.Partition(
        lambda item, _: split_names.index(item[0]), len(split_names))
    splits = {}
    for name, part in zip(split_names, parts):
      splits[name] = part | f"Examples[{name}]" >> beam.Values()
      _ = (splits[name]
           | f"ClassOf[{name}]" >> beam.Map(_class_of)
           | f"CountClasses[{name}]" >> beam.combiners.Count.PerElement()
           | f"FormatCounts[{name}]" >> beam.MapTuple(lambda c, n: json.dumps([c, n]))
           | f"WriteCounts[{name}]" >> beam.io.WriteToText(
               posixpath.join(report_dir, f"counts-{name}")))
    return splits

  def _write_examples(self, examples, exec_properties: Dict[str, Any]) -> None:
    """BaseExampleGenExecutor.Do, less WriteSplit's Reshuffle before writing.

    That all-to-all shuffle holds every example in memory on DirectRunner; the splits are
    written in the order read instead, which in_chunks already mixes by a hash of the name.
    """
    input_config, output_config = _configs(exec_properties)
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
    split_names = example_gen_utils.generate_output_split_names(*_configs(exec_properties))
    try:
      self._write_examples(examples, exec_properties)
    except sources.InputError as e:  # nothing could be read: counts of what was found
      report = _assemble_report(report_dir, split_names, check=False)
      self._publish(examples, report, exec_properties, error=str(e))
      raise IngestError(str(e), report) from e
    report = _assemble_report(report_dir, split_names)
    config = unpack_custom_config(exec_properties)
    problem = training_data_problem(report, config.get("classes") or report["classes"])
    self._publish(examples, report, exec_properties, error=problem)
    if problem:
      raise IngestError(problem, report)

  @staticmethod
  def _publish(examples, report: Dict[str, Any], exec_properties: Dict[str, Any],
               error: Optional[str]) -> None:
    """Writes ingest_report.json beside the splits, records the totals, prints a summary."""
    report["span"] = exec_properties.get(example_gen_utils.SPAN_PROPERTY_NAME)
    report["warnings"] = _imbalance_warnings(report["splits"])
    if error:
      report["error"] = error
    with tf.io.gfile.GFile(posixpath.join(examples.uri, REPORT_FILE), "w") as f:
      json.dump(report, f, indent=1)
    report_dir = exec_properties[_REPORT_DIR_KEY]
    if tf.io.gfile.exists(report_dir):
      tf.io.gfile.rmtree(report_dir)
    examples.set_int_custom_property("images_found", report["images_found"])
    examples.set_int_custom_property("images_ingested", report["images_ingested"])
    examples.set_int_custom_property("images_rejected", sum(report["images_rejected"].values()))
    print(format_report(report), flush=True)


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


def _names(names: Sequence[str]) -> str:
  names = list(names)
  more = f" and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else ""
  return ", ".join(names[:MAX_LISTED]) + more


def _class_outcome(report: Dict[str, Any], cls: str) -> str:
  """'zz (no files)' or 'c3 (4 files: 3 unsupported_format, 1 hidden_file)'."""
  reasons: Dict[str, int] = {}
  for rejected in report["rejected_files"]:
    if rejected["class"] == cls:
      reasons[rejected["reason"]] = reasons.get(rejected["reason"], 0) + 1
  found = sum(s["classes"].get(cls, {}).get("found", 0) for s in report["splits"].values())
  if not found:
    return f"{cls} (no files)"
  written = found - sum(reasons.values())
  outcome = ", ".join(f"{n} {r}" for r, n in sorted(reasons.items(), key=lambda kv: -kv[1]))
  if written:
    outcome = f"{written} written, none in train" + (f"; {outcome}" if outcome else "")
  return f"{cls} ({found} file{'s' if found > 1 else ''}: {outcome})"


def training_data_problem(report: Dict[str, Any], expected: Sequence[str]) -> Optional[str]:
  """One line naming the classes and splits that cannot train and evaluate a model, or None.

  Every expected class (named by --classes, else found) needs a written training image, no
  split may be empty, and every eval/test split must hold the classes train has, and no other.
  """
  splits = report["splits"]
  train = set(_written_classes(splits["train"])) if "train" in splits else set()
  problems = []
  no_training = [c for c in expected if c not in train]
  if no_training:
    problems.append("no training image for class(es) "
                    + _names(_class_outcome(report, c) for c in no_training))
  empty = [name for name, split in splits.items() if not split["written"]]
  if empty:
    problems.append(f"split(s) {', '.join(empty)} received no images")
  for name, split in splits.items():
    if name == "train" or not split["written"]:
      continue
    written = set(_written_classes(split))
    if train - written:
      problems.append(f"{name} lacks class(es) {_names(sorted(train - written))} that train "
                      "has: they cannot be evaluated")
    if written - train:
      problems.append(f"class(es) {_names(sorted(written - train))} appear in {name} but not "
                      "in train: the model cannot learn them; add training images")
  return "cannot train: " + "; ".join(problems) if problems else None


def format_report(report: Dict[str, Any]) -> str:
  rejected = ", ".join(f"{n} {r}" for r, n in report["images_rejected"].items()) or "none"
  lines = [f"[ImageExampleGen] found {report['images_found']} files: "
           f"{report['images_ingested']} ingested, rejected: {rejected}"]
  for name, split in report["splits"].items():
    lines.append(f"[ImageExampleGen]   {name}: {split['found']} found, {split['written']} written, "
                 f"{sum(split['rejected'].values())} rejected, {len(split['classes'])} classes")
  lines += [f"[ImageExampleGen] skipped {s}: the pipeline's output dir is never data"
            for s in report.get("skipped_folders", [])]
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


def _display_detail(detail: Optional[Dict[str, Any]]) -> Dict[str, Any]:
  def ref(r):
    return {"path": sources.display(r["path"]), "class": sources.display(r["class"]),
            "split": r["split"]}
  if not detail:
    return {}
  if "duplicate_of" in detail:
    return {"duplicate_of": ref(detail["duplicate_of"])}
  return {"conflicts_with": [ref(r) for r in detail["conflicts_with"]],
          "identical_files": detail["identical_files"]}


def _assemble_report(report_dir: str, split_names: List[str],
                     check: bool = True) -> Dict[str, Any]:
  """Merges the Beam-written shards; checks found = written + rejected."""
  splits = {name: {"found": 0, "written": 0, "rejected": {}, "classes": {}}
            for name in split_names}
  listing = {"classes": [], "skipped": [], "listed": 0}
  if tf.io.gfile.exists(posixpath.join(report_dir, "listing.json")):
    with tf.io.gfile.GFile(posixpath.join(report_dir, "listing.json")) as f:
      listing = json.load(f)
  for name in split_names:
    for cls, count in _read_json_lines(posixpath.join(report_dir, f"counts-{name}*")):
      _tally(splits[name], cls, written=count)
  rejected_files = sorted(
      ([split, sources.display(cls), reason, sources.display(name), detail]
       for split, cls, reason, name, detail in _read_json_lines(
           posixpath.join(report_dir, "rejected*"))),
      key=lambda r: (r[3], r[0]))
  by_reason: Dict[str, int] = {}
  for split, cls, reason, _, _ in rejected_files:
    _tally(splits[split], cls, reason=reason)
    by_reason[reason] = by_reason.get(reason, 0) + 1
  for split in splits.values():
    split["rejected"] = dict(sorted(split["rejected"].items()))
    split["classes"] = dict(sorted(split["classes"].items()))
  ingested = sum(s["written"] for s in splits.values())
  found = listing["listed"] if check else ingested + len(rejected_files)
  if found != ingested + len(rejected_files):
    raise RuntimeError(f"{found} files listed but {ingested} ingested + "
                       f"{len(rejected_files)} rejected: images were lost")
  return {
      "images_found": found,
      "images_ingested": ingested,
      "images_rejected": dict(sorted(by_reason.items())),
      "rejected_files": [dict({"path": p, "split": s, "class": c, "reason": r},
                              **_display_detail(d))
                         for s, c, r, p, d in rejected_files],
      "splits": splits,
      "classes": listing["classes"],
      "skipped_folders": [sources.display(s) for s in listing["skipped"]],
  }
