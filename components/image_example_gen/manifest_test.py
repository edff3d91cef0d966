"""Manifests: a CSV with a path,label header, read as a stream whatever its bytes."""

import hashlib

import pytest

from components.image_example_gen import manifest
from components.image_example_gen.errors import InputError


def test_rows_are_stripped_and_the_header_is_found_with_a_bom_in_any_case(tmp_path):
  path = tmp_path / "labels.csv"
  path.write_bytes(b"\xef\xbb\xbf Path ,LABEL,extra\n a/x.png , cat ,1\nb/caf\xe9.png,dog,2\n")
  assert list(manifest.manifest_rows(str(path))) == [
    {"path": "a/x.png", "label": "cat"},
    {"path": "b/caf\udce9.png", "label": "dog"},  # not UTF-8: the byte kept as an escape
  ]
  assert manifest.file_sha256(str(path)) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_manifest_without_path_and_label_columns_is_an_input_error(tmp_path):
  path = tmp_path / "labels.csv"
  path.write_text("file,class\na.png,cat\n")
  with pytest.raises(InputError, match="needs a header with the columns path,label"):
    list(manifest.manifest_rows(str(path)))
