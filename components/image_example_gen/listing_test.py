"""The executor's listing is written in chunks as it is walked, never held whole."""

import json
import tracemalloc

from tfx.components.example_gen import base_example_gen_executor
from tfx.proto import example_gen_pb2

from components.image_example_gen import ingest, listing, sources, walk


def test_split_of_is_tfx_examplegens_partition():
  config = example_gen_pb2.SplitConfig(
    splits=[
      example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=8),
      example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=1),
      example_gen_pb2.SplitConfig.Split(name="test", hash_buckets=1),
    ],
    partition_feature_name="file_name",
  )
  split_of = listing.SplitOf(config)
  names = [f"c{i % 7}/{'deep/' * (i % 40)}img_{i}.png" for i in range(500)]  # past 127 bytes
  names += ["caf\u00e9/\u6771\u4eac.png", "dog/latin1_\udce9.png"]  # not UTF-8: its bytes
  for name in names:
    example = ingest.make_example(b"", name, "c", (1, 1, 1, 0.0))
    index = base_example_gen_executor._PartitionFn(  # noqa: SLF001  (TFX's own split rule)
      example, 3, [8, 9, 10], config
    )
    assert split_of(name) == ("train", "eval", "test")[index], name


def _fake_walk(count):
  """A walk of `count` files, made as they are asked for (none is kept here)."""

  def candidates():
    for i in range(count):
      name = f"class{i % 10}/some/longer/folder/name/image_{i:07d}.png"
      yield walk.Candidate(
        f"/data/{name}", name, f"class{i % 10}", "hidden_file" if i % 1000 == 0 else None
      )

  return walk.Listing(candidates(), [f"class{i}" for i in range(10)], [])


def test_the_listing_is_written_in_chunks_as_it_is_walked(tmp_path, monkeypatch):
  count = 30_000
  monkeypatch.setattr(walk, "walk_split", lambda *_, **__: _fake_walk(count))
  config = sources.plain_input_config()
  tracemalloc.start()
  try:
    found = listing.write_listing(str(tmp_path), "/data", config, None)
    _, peak = tracemalloc.get_traced_memory()
  finally:
    tracemalloc.stop()
  # Held whole, the rows would take 30,000 x ~400 bytes (12 MB); streamed, a chunk at a time.
  assert peak < 2_000_000, peak
  assert (found["listed"], found["to_read"]) == (count, count - 30)
  assert found["classes"] == [f"class{i}" for i in range(10)]
  with open(tmp_path / listing.LISTING_FILE, "rb") as f:
    data = f.read()
  chunks = [json.loads(data[offset : offset + size]) for offset, size in found["chunks"]]
  sizes = [len(chunk) for chunk in chunks]
  assert sizes[: listing.MIN_CHUNKS] == [1] * listing.MIN_CHUNKS  # small inputs spread out
  assert max(sizes) == listing.MAX_CHUNK and sum(sizes) == count - 30
  rows = [ingest.Row(*fields) for chunk in chunks for fields in chunk]
  assert len({row.name for row in rows}) == len(rows)
  assert {row.split for row in rows} == {"images"}  # the input split: no split config
  with open(tmp_path / listing.REJECTED_FILE) as f:
    rejected = [json.loads(line) for line in f]
  assert len(rejected) == 30 and {r[2] for r in rejected} == {"hidden_file"}
