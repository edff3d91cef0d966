"""ImageExampleGen's driver: span, version and an input fingerprint that covers every file read.

TFX's FileBasedDriver fingerprints the files its split patterns' glob matches: for a class tree
(`*/*`) that is only `<class>/<entry>`, and for a manifest only the CSV, so a change deeper in
the tree or to a listed image left ExampleGen cached on stale data. Here the span and version
still come from TFX's utilities (spans.resolve_span_and_version), but the fingerprint is a
digest of the same listing the executor reads (walk.walk_split, streamed, never held whole):
every entry at any depth with its rejection reason, and for each file that would be read its
size, modification time (ns) and inode; for a manifest also the CSV's own bytes. Files are stat'ed, never opened, so any
addition, deletion or change re-runs ExampleGen, and nothing else does: a rejected-by-name
file's content, folder times, the pipeline's output dir inside the data dir do not count.
"""

import hashlib
from typing import Any, Dict, Iterable, Optional, Sequence

from tfx.components.example_gen import driver, input_processor
from tfx.proto import example_gen_pb2, range_config_pb2

from components.image_example_gen import executor, files, spans, walk


def input_fingerprint(
  input_base: str,
  splits: Iterable[example_gen_pb2.Input.Split],
  classes: Sequence[str] = (),
  skip_dirs: Sequence[str] = (),
  unlabelled: bool = False,
) -> str:
  """One line per split (span placeholders already filled in): file count, bytes, digest."""
  lines = []
  for split in splits:
    listing = walk.walk_split(
      input_base.rstrip("/"), split.pattern, classes, skip_dirs, stamps=True, unlabelled=unlabelled
    )
    digest = hashlib.sha256(listing.manifest_sha256.encode())
    count = total = 0
    for c in listing.candidates:  # four fields, each ended by NUL (never in a name)
      digest.update(
        files.encode(
          f"{c.name}\0{c.label}\0{c.reason or ''}\0{','.join(map(str, c.stamp or ()))}\0"
        )
      )
      count += 1
      total += c.stamp[0] if c.stamp else 0
    digest.update(files.encode("\0".join(listing.skipped)))
    lines.append(f"split:{split.name},files:{count},bytes:{total},sha256:{digest.hexdigest()}")
  return "\n".join(lines)


def fingerprint_options(exec_properties: Dict[str, Any]) -> Dict[str, Any]:
  """What of the component's custom config shapes the listing."""
  config = executor.unpack_custom_config(exec_properties)
  return {
    "classes": config.get("classes", []),
    "skip_dirs": config.get("skip_dirs", []),
    "unlabelled": bool(config.get("unlabelled", False)),
  }


class InputProcessor(input_processor.FileBasedInputProcessor):
  """FileBasedInputProcessor with input_fingerprint in place of the pattern glob's."""

  def __init__(
    self,
    input_base_uri: str,
    splits: Iterable[example_gen_pb2.Input.Split],
    range_config: Optional[range_config_pb2.RangeConfig] = None,
    options: Optional[Dict[str, Any]] = None,
  ):
    super().__init__(input_base_uri, list(splits), range_config)
    self._options = options or {}
    self._resolved: Dict[str, str] = {}

  def resolve_span_and_version(self):
    span, version, resolved = spans.resolve_span_and_version(
      self._input_base_uri, self._splits, self._range_config
    )
    self._resolved = {s.pattern: r.pattern for s, r in zip(self._splits, resolved)}
    self._fingerprint = input_fingerprint(self._input_base_uri, resolved, **self._options)
    return span, version

  def get_pattern_for_span_version(self, pattern: str, span: int, version: Optional[int]) -> str:
    """The pattern as resolved, with the span text matched (TFX's would write `day-3` for a
    `day-{SPAN}` that matched `day-03`)."""
    return self._resolved.get(pattern) or super().get_pattern_for_span_version(
      pattern, span, version
    )


class Driver(driver.FileBasedDriver):
  """FileBasedDriver whose fingerprint covers every file ImageExampleGen reads."""

  _options: Dict[str, Any] = {}

  def resolve_exec_properties(self, exec_properties, pipeline_info, component_info):
    self._options = fingerprint_options(exec_properties)
    return super().resolve_exec_properties(exec_properties, pipeline_info, component_info)

  def get_input_processor(self, splits, range_config=None, input_base_uri=None):
    return InputProcessor(input_base_uri, splits, range_config, self._options)
