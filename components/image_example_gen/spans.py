"""Split patterns and their placeholders: spans, versions and dates, resolved by TFX's utilities.

A split pattern names a class-folder tree below input_base (`<root>/*/*`) or a CSV manifest;
its root may hold TFX's placeholders ({SPAN}, {SPAN:4}, {VERSION}, {YYYY}...), filled in with
the newest span (and its newest version) when the driver runs.
"""

import json
import posixpath
import re
from typing import List, Optional, Sequence, Tuple

from tfx.components.example_gen import utils as example_gen_utils
from tfx.proto import example_gen_pb2, range_config_pb2

from components.image_example_gen.errors import InputError
from components.image_example_gen.files import display

CLASS_PATTERN = "*/*"  # <class>/... below a split root: "the class-folder tree at this root"
# TFX's span, version and date placeholders ({SPAN}, {SPAN:4}, {VERSION}, {YYYY}...).
_SPEC = re.compile(
  "|".join(
    [
      example_gen_utils.SPAN_FULL_REGEX,
      example_gen_utils.VERSION_FULL_REGEX.replace("width", "vwidth"),
    ]
    + [re.escape(s) for s in example_gen_utils.DATE_SPECS]
  )
)


def span_path(input_base: str, input_config: str) -> str:
  """The data path as --data-dir names it: input_base, joined with the span folder or manifest
  pattern (`day-{SPAN}`, not the split folders below it) of a JSON input config with one."""
  splits = json.loads(input_config or "{}").get("splits") or [{}]
  parts = splits[0].get("pattern", "").split("/")
  spec = [i for i, part in enumerate(parts) if has_spec(part)]  # below it: train/, */*
  return posixpath.join(input_base, *parts[: spec[-1] + 1]) if spec else input_base


def has_spec(path: str) -> bool:
  """Whether a path has a span, version or date placeholder."""
  return bool(_SPEC.search(path))


def split_root(pattern: str) -> str:
  """What a split pattern names: a tree's root (the pattern less its /*/*), or a manifest."""
  if pattern == CLASS_PATTERN:
    return ""
  if pattern.endswith("/" + CLASS_PATTERN):
    return pattern[: -len(CLASS_PATTERN) - 1]
  return pattern


def resolve_span_and_version(
  input_base: str,
  splits: Sequence[example_gen_pb2.Input.Split],
  range_config: Optional[range_config_pb2.RangeConfig] = None,
) -> Tuple[int, Optional[int], List[example_gen_pb2.Input.Split]]:
  """(span, version, splits with the placeholders filled in), by TFX's ExampleGen utilities.

  The newest span (and its newest version) is looked for among the split roots (the span
  folders or manifests), not among the files below them. The placeholders are filled with the
  text matched (TFX's utility writes it into the roots): `day-{SPAN}` finds `day-03` as span 3.
  """
  roots = [example_gen_pb2.Input.Split(name=s.name, pattern=split_root(s.pattern)) for s in splits]
  where = posixpath.join(input_base, roots[0].pattern) if roots else input_base
  if has_spec(input_base):  # e.g. a compiled spec's data_root given the whole --data-dir
    raise InputError(
      f"{display(input_base)}: the data root is the folder above the span folders, without "
      f"placeholders (the spec has the pattern {roots[0].pattern if roots else ''!r} already)"
    )
  try:
    _, span, version = example_gen_utils.calculate_splits_fingerprint_span_and_version(
      input_base, roots, range_config
    )  # fills each root's placeholders with what matched
  except ValueError as e:
    raise InputError(f"{display(where)}: {e}") from e
  resolved = [
    example_gen_pb2.Input.Split(
      name=split.name, pattern=root.pattern + split.pattern[len(split_root(split.pattern)) :]
    )
    for split, root in zip(splits, roots)
  ]
  return span, version, resolved


def base_and_prefix(data_dir: str) -> Tuple[str, str]:
  """input_base (no placeholder in it) and the rest of the path, relative to it: the inverse of
  span_path (a manifest's folder is its input_base)."""
  if not has_spec(data_dir):
    if data_dir.lower().endswith(".csv"):
      return posixpath.dirname(data_dir) or ".", posixpath.basename(data_dir)
    return data_dir, ""
  parts = data_dir.split("/")
  at = next(i for i, part in enumerate(parts) if has_spec(part))
  return "/".join(parts[:at]) or ("/" if data_dir.startswith("/") else "."), "/".join(parts[at:])
