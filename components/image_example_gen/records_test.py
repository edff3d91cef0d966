"""The one reader of ImageExampleGen's records, on real digit PNGs written as the ingestion writes
them."""

import hashlib

from components.image_example_gen import records
from tests import images
from tests import records as written

NOT_UTF8 = b"caf\xe9.png".decode("utf-8", "surrogateescape")  # a Latin-1 file name


def _digits(count: int):
  files = images.digit_files({d: -(-count // 10) for d in range(10)})
  found = [(name, data, name.split("/")[0]) for name, data in sorted(files.items())][:count]
  return found[:-1] + [(f"9/{NOT_UTF8}", found[-1][1], "9")]


def test_a_split_is_read_in_the_files_order_with_every_field(tmp_path):
  digits = _digits(25)
  written.write_split(str(tmp_path), "eval", digits, shards=3)
  written.write_split(str(tmp_path), "train", digits[:2])
  found = list(records.read(str(tmp_path), "eval"))
  assert [(r.file_name, r.image, r.label) for r in found] == digits
  assert [r.sha256 for r in found] == [hashlib.sha256(d).hexdigest() for _, d, _ in digits]
  assert found[-1].file_name == "9/" + NOT_UTF8  # the file system's bytes, as they were
  assert list(records.read(str(tmp_path), "eval", limit=4)) == found[:4]
  assert list(records.read(str(tmp_path), "test")) == []  # no such split
  assert len(records.split_files(str(tmp_path), "eval")) == 3


def test_a_sample_is_drawn_from_the_first_records_the_same_every_time(tmp_path):
  digits = _digits(40)
  written.write_split(str(tmp_path), "train", digits, shards=2)
  sample = list(records.read(str(tmp_path), "train", limit=8, sample_from=20))
  assert sample == list(records.read(str(tmp_path), "train", limit=8, sample_from=20))
  names = [r.file_name for r in sample]
  first = [name for name, _, _ in digits[:20]]
  assert len(set(names)) == 8 and set(names) <= set(first)
  assert names != first[:8]  # drawn, not the first ones
  assert len({r.label for r in sample}) > 2  # so it spans several classes


def test_one_record_parses_as_the_reader_gives_it(tmp_path):
  digits = _digits(3)
  written.write_split(str(tmp_path), "infer", [(n, d, "") for n, d, _ in digits])
  serialized = written.serialized(written.split_files(str(tmp_path), "infer"))
  parsed = [records.parse(s) for s in serialized]
  assert parsed == list(records.read(str(tmp_path), "infer"))
  assert [p.label for p in parsed] == ["", "", ""]  # unlabelled, as InferenceExampleGen writes
