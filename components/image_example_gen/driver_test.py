"""The driver's fingerprint covers every file ImageExampleGen reads, at any depth, and nothing
else; LocalDagRunner's cache follows it."""

import json
import os
import shutil
import time

import pytest
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx
from tfx.orchestration import metadata

from components.image_example_gen import ImageExampleGen, spans
from tests import images, ingestion, listings


def counts(data_dir, out):
  with open(os.path.join(ingestion.run_executor(data_dir, out).uri, "ingest_report.json")) as f:
    report = json.load(f)
  return report["images_found"], report["images_ingested"], report["images_rejected"]


@pytest.fixture
def tree(tmp_path):
  """Digits 0-2 (16 each), a third of them three folders deep, plus a text file."""
  files = images.digit_files({0: 16, 1: 16, 2: 16}, folder="c{digit}")
  deep = {name: data for i, (name, data) in enumerate(sorted(files.items())) if i % 3 == 0}
  files = {(n.replace("/", "/sub/sub2/", 1) if n in deep else n): d for n, d in files.items()}
  files["c1/notes.txt"] = b"scanned in March"
  images.write_tree(str(tmp_path / "data"), files)
  return str(tmp_path / "data")


def _deep_files(root):
  return sorted(
    os.path.join(folder, name)
    for folder, _, names in os.walk(root)
    for name in names
    if "sub2" in folder
  )


@pytest.mark.integration
def test_a_deep_add_change_or_delete_changes_the_fingerprint_and_the_counts(tree, tmp_path):
  before, found = ingestion.fingerprint(tree), counts(tree, str(tmp_path / "0"))
  assert before.startswith("split:images,files:49,")
  assert found == (49, 48, {"not_an_image": 1})

  extra = images.digit_files({0: 5}, folder="c0/sub/sub2", skip=16)  # five new images, deep
  images.write_tree(tree, extra)
  added = ingestion.fingerprint(tree)
  assert added != before
  assert counts(tree, str(tmp_path / "1")) == (54, 53, {"not_an_image": 1})

  deep = _deep_files(tree)
  for path in deep[:2]:  # same size and time would still differ: the inode does not
    with open(path, "wb") as f:
      f.write(b"overwritten with text")
  changed = ingestion.fingerprint(tree)
  assert changed not in (before, added)
  assert counts(tree, str(tmp_path / "2")) == (54, 51, {"not_an_image": 3})

  os.remove(deep[2])
  deleted = ingestion.fingerprint(tree)
  assert deleted not in (before, added, changed)
  assert counts(tree, str(tmp_path / "3")) == (53, 50, {"not_an_image": 3})


def test_a_same_size_rewrite_with_the_old_time_still_changes_the_fingerprint(tree):
  path = _deep_files(tree)[0]
  before, st = ingestion.fingerprint(tree), os.stat(path)
  with open(path, "rb") as f:
    data = bytearray(f.read())
  data[-20] ^= 0xFF  # same size
  with open(path + ".new", "wb") as f:
    f.write(data)
  os.replace(path + ".new", path)  # what rsync and editors do
  os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the old modification time
  assert os.stat(path).st_size == st.st_size
  assert ingestion.fingerprint(tree) != before


def test_an_in_place_same_size_overwrite_with_the_old_time_changes_the_fingerprint(tree):
  path = _deep_files(tree)[0]
  before, st = ingestion.fingerprint(tree), os.stat(path)
  with open(path, "r+b") as f:  # the same inode, the same size
    f.seek(-20, os.SEEK_END)
    f.write(bytes(20))
  os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
  after = os.stat(path)
  assert (after.st_ino, after.st_size, after.st_mtime_ns) == (st.st_ino, st.st_size, st.st_mtime_ns)
  assert ingestion.fingerprint(tree) != before


def test_nothing_else_changes_the_fingerprint(tree):
  output_dir = os.path.join(tree, "tfx_output")  # the pipeline's own output, inside the data
  os.makedirs(output_dir)
  before = ingestion.fingerprint(tree, skip_dirs=[output_dir])
  images.write_tree(
    output_dir, {"report/confusion_matrix.png": b"\x89PNG...", "metadata.db": b"sqlite"}
  )
  for path in _deep_files(tree):
    with open(path, "rb") as f:
      f.read()  # reading (atime)
  os.utime(os.path.join(tree, "c0"))  # a folder's time
  with open(os.path.join(tree, "c1", "notes.txt"), "ab") as f:
    f.write(b", never read: rejected by its name")
  assert ingestion.fingerprint(tree, skip_dirs=[output_dir]) == before
  images.write_tree(tree, {"c2/.DS_Store": b"Bud1"})  # listed (and counted) as hidden_file
  assert ingestion.fingerprint(tree, skip_dirs=[output_dir]) != before


def test_pre_split_trees_are_fingerprinted_at_any_depth(tmp_path):
  files = images.digit_files({0: 6, 1: 6}, folder="{digit}/deep/er")
  tree = {
    f"{('train', 'eval')[i % 2]}/{name}": data
    for i, (name, data) in enumerate(sorted(files.items()))
  }
  images.write_tree(str(tmp_path / "data"), tree)
  before = ingestion.fingerprint(str(tmp_path / "data"))
  assert [line.split(",")[:2] for line in before.splitlines()] == [
    ["split:train", "files:6"],
    ["split:eval", "files:6"],
  ]
  with open(os.path.join(tmp_path, "data", sorted(tree)[-1]), "wb") as f:
    f.write(b"text")
  after = ingestion.fingerprint(str(tmp_path / "data"))
  assert after != before
  assert sum(a != b for a, b in zip(after.splitlines(), before.splitlines())) == 1


def test_a_manifest_fingerprint_covers_every_listed_file(tmp_path):
  files = images.digit_files({0: 5, 1: 5}, folder="imgs/{digit}")
  files["imgs/unlisted.png"] = files[sorted(files)[0]]
  images.write_tree(str(tmp_path), files)
  manifest = tmp_path / "labels.csv"
  manifest.write_text(
    "path,label\n"
    + "".join(f"{n},{n.split('/')[1]}\n" for n in sorted(files) if "unlisted" not in n)
  )
  before = ingestion.fingerprint(str(manifest))
  with open(tmp_path / "imgs" / "unlisted.png", "wb") as f:
    f.write(b"not listed: not read")
  assert ingestion.fingerprint(str(manifest)) == before
  listed = tmp_path / sorted(files)[3]
  listed.write_bytes(b"a listed image, overwritten with text; the CSV is unchanged")
  changed = ingestion.fingerprint(str(manifest))
  assert changed != before
  manifest.write_text(manifest.read_text() + "imgs/unlisted.png,0\n")
  assert ingestion.fingerprint(str(manifest)) not in (before, changed)


def test_fingerprinting_stats_and_never_reads(tmp_path):
  """Thousands of files in a second or so; a FIFO (which would block a reader) is fine."""
  root = tmp_path / "many"
  for c in range(4):
    for d in range(10):
      folder = root / f"c{c}" / f"d{d}"
      folder.mkdir(parents=True)
      for i in range(100):
        (folder / f"{i}.png").write_bytes(b"x")
  os.mkfifo(root / "c0" / "pipe.png")
  started = time.monotonic()
  result = ingestion.fingerprint(str(root))
  seconds = time.monotonic() - started
  assert result.startswith("split:images,files:4001,bytes:4000,")
  assert seconds < 10, seconds  # about 0.1 s here: 4,000 stat calls


def _states(db):
  connection = metadata_store_pb2.ConnectionConfig()
  connection.sqlite.filename_uri = db
  with metadata.Metadata(connection) as m:
    return [
      metadata_store_pb2.Execution.State.Name(e.last_known_state)
      for e in sorted(m.store.get_executions(), key=lambda e: e.id)
    ]


@pytest.mark.integration
def test_local_dag_runner_reuses_examples_until_a_deep_file_changes(tree, tmp_path):
  db = str(tmp_path / "metadata.db")

  def run():
    tfx.orchestration.LocalDagRunner().run(
      tfx.dsl.Pipeline(
        pipeline_name="cache-test",
        pipeline_root=str(tmp_path / "root"),
        components=[ImageExampleGen(tree, splits={"train": 1, "eval": 1})],
        enable_cache=True,
        metadata_connection_config=metadata.sqlite_metadata_connection_config(db),
      )
    )
    return _states(db)[-1]

  assert run() == "COMPLETE"
  assert run() == "CACHED"
  shutil.copy(_deep_files(tree)[0], os.path.join(tree, "c2", "sub", "sub2", "copy.png"))
  assert run() == "COMPLETE"  # a deep addition (a duplicate, rejected, but counted)


def test_remote_trees_are_listed_and_fingerprinted_through_tf_io_gfile():
  """gs:// goes through tf.io.gfile (walk, stat): TensorFlow's in-memory ram:// file system
  takes the same path here (its modification times are all 0, so a change shows as a size)."""
  import tensorflow as tf  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)

  root = f"ram://driver-test-{os.getpid()}/data"
  files = images.digit_files({0: 3, 1: 3}, folder="c{digit}/sub")
  files.update({"c1/.DS_Store": b"Bud1", "tfx_output/report/x.png": b"own output"})
  for name, data in files.items():
    tf.io.gfile.makedirs(os.path.dirname(f"{root}/{name}"))
    with tf.io.gfile.GFile(f"{root}/{name}", "wb") as f:
      f.write(data)
  skip = [f"{root}/tfx_output"]
  listing = listings.list_split(root, spans.CLASS_PATTERN, skip_dirs=skip)
  assert {c.name: c.reason for c in listing.candidates if c.reason} == {
    "c1/.DS_Store": "hidden_file"
  }
  assert (listing.classes, listing.skipped) == (["c0", "c1"], ["tfx_output"])
  before = ingestion.fingerprint(root, skip_dirs=skip)
  assert before.startswith("split:images,files:7,")
  with tf.io.gfile.GFile(f"{root}/{sorted(files)[0]}", "wb") as f:
    f.write(b"text")
  assert ingestion.fingerprint(root, skip_dirs=skip) != before
