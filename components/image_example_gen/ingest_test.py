"""The ingest steps' pieces: spool buckets, Decide over several spool files, publishing."""

import hashlib
import json
import os

import tensorflow as tf

from components.image_example_gen import ingest, spool
from tests import records


def test_a_spool_bucket_holds_every_copy_of_its_content(tmp_path):
  """Records of two bundles: identical contents share a bucket, the rest spread out."""
  contents = [f"image {i}".encode() for i in range(200)]
  written = []
  for bundle in range(2):
    writer = spool.Writer(str(tmp_path), buckets=8)
    for i, data in enumerate(contents):
      writer.add(
        hashlib.sha256(data).digest(), json.dumps([bundle, i]).encode(), data if i % 2 else b""
      )
    written += writer.close()
  buckets = {}
  for bucket, path in written:
    for record in spool.read(path):
      buckets.setdefault(record.sha256, set()).add(bucket)
      bundle, i = json.loads(record.meta)
      with open(path, "rb") as f:
        assert spool.read_data(f, record.offset, record.size) == (contents[i] if i % 2 else b"")
  assert len(buckets) == 200 and all(len(b) == 1 for b in buckets.values())
  assert len({bucket for bucket, _ in written}) == 8
  assert len(written) == 16  # one file per bucket and bundle


def _row(name, label):
  return ingest.Row(f"/nowhere/{name}", name, label, None, "train", name)


def test_decide_finds_copies_across_spool_files_and_keeps_the_first_in_path_order(tmp_path):
  same, other = b"\x89PNG same bytes", b"\x89PNG other bytes"
  paths = []
  for rows in ([_row("b/2.png", "b"), _row("a/9.png", "a")], [_row("b/1.png", "b")]):
    writer = spool.Writer(str(tmp_path), buckets=1)
    for row in rows:
      data = other if row.name == "a/9.png" else same
      writer.add(hashlib.sha256(data).digest(), ingest.record_meta(row, [1, 1, 1, 0.0]), data)
    paths += [path for _, path in writer.close()]
  decide = ingest.Decide(keep_duplicates=False, folder=str(tmp_path))
  decide.start_bundle()
  outputs = list(decide.process((0, paths))) + list(decide.finish_bundle())
  rejected = [json.loads(o.value) for o in outputs if o.tag == ingest.REJECTED]
  assert rejected == [
    [
      "train",
      "b",
      "duplicate",
      "b/2.png",
      {"duplicate_of": {"path": "b/1.png", "class": "b", "split": "train"}},
    ]
  ]
  [(split, shard)] = [o.value.value for o in outputs if o.tag == ingest.SHARDS]
  written = [records.feature(e, "file_name") for e in records.examples(shard)]
  assert split == "train" and sorted(written) == [b"a/9.png", b"b/1.png"]


def test_publish_names_the_files_and_gives_an_empty_split_one_empty_file(tmp_path):
  shards = {"train": [], "eval": []}
  for i in range(3):
    path = str(tmp_path / f"tmp{i}.gz")
    with tf.io.TFRecordWriter(path, tf.io.TFRecordOptions(compression_type="GZIP")) as w:
      w.write(b"x%d" % i)
    shards["train"].append(path)
  prefixes = {s: str(tmp_path / f"Split-{s}" / "data_tfrecord") for s in ("train", "eval")}
  assert ingest.publish("train", shards, prefixes) == 3
  assert ingest.publish("eval", shards, prefixes) == 1
  assert sorted(os.listdir(tmp_path / "Split-train")) == [
    f"data_tfrecord-0000{i}-of-00003.gz" for i in range(3)
  ]
  [empty] = os.listdir(tmp_path / "Split-eval")
  assert empty == "data_tfrecord-00000-of-00001.gz"
  assert not records.serialized(str(tmp_path / "Split-eval" / empty))
