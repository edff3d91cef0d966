"""The ImageExampleGen executor on real PNG and JPEG digits, with broken files mixed in."""

import hashlib
import json
import os
import shutil

import pytest

from components.image_example_gen import executor, listing, progress
from schemas import filenames
from tests import images, ingestion, records

pytestmark = pytest.mark.integration  # Beam, TFX executors, training or subprocesses


def label_changes(items):
  labels = [getattr(i, "label", i) for i in items]
  return sum(a != b for a, b in zip(labels, labels[1:]))


@pytest.fixture(scope="module")
def image_tree(tmp_path_factory):
  """60 different digits 0-3 (15 each), every third a JPEG, plus one corrupt, one empty and one
  non-image file."""
  root = str(tmp_path_factory.mktemp("images"))
  files, per_class = {}, {}
  for i, (pixels, digit) in enumerate(images.digit_pixels(200, scale=2)):
    if digit > 3 or per_class.get(digit, 0) == 15:
      continue
    per_class[digit] = per_class.get(digit, 0) + 1
    fmt = "jpeg" if i % 3 == 0 else "png"
    files[f"{digit}/img_{i:03d}.{'jpg' if fmt == 'jpeg' else 'png'}"] = images.encode(pixels, fmt)
  good = images.encode(images.digit_pixels(1)[0][0], "png")
  files["3/truncated.png"] = good[: len(good) // 2]
  files["1/empty.png"] = b""
  files["2/notes.txt"] = b"not an image"
  images.write_tree(root, files)
  return root


def test_ingests_every_decodable_image_and_counts_the_rest(image_tree, tmp_path):
  examples = ingestion.run_executor(image_tree, str(tmp_path / "out"))
  train, eval_ = (
    records.split_examples(examples.uri, "train"),
    records.split_examples(examples.uri, "eval"),
  )
  assert len(train) + len(eval_) == 60
  assert train and eval_
  with open(os.path.join(examples.uri, filenames.INGEST_REPORT)) as f:
    report = json.load(f)
  assert report["images_found"] == images.count_files(image_tree) == 63
  assert report["images_ingested"] == 60
  assert report["images_rejected"] == {"empty_file": 1, "not_an_image": 1, "truncated_file": 1}
  assert {r["path"]: r["reason"] for r in report["rejected_files"]} == {
    "3/truncated.png": "truncated_file",
    "1/empty.png": "empty_file",
    "2/notes.txt": "not_an_image",
  }
  assert {s: v["written"] for s, v in report["splits"].items()} == {
    "train": len(train),
    "eval": len(eval_),
  }
  assert examples.get_int_custom_property("images_rejected") == 3
  assert examples.get_int_custom_property("images_ingested") == 60


def test_examples_hold_bytes_label_name_and_shape(image_tree, tmp_path):
  examples = ingestion.run_executor(image_tree, str(tmp_path / "out"))
  for example in records.split_examples(examples.uri, "train") + records.split_examples(
    examples.uri, "eval"
  ):
    name = records.feature(example, "file_name").decode()
    with open(os.path.join(image_tree, name), "rb") as f:
      data = f.read()
    assert records.feature(example, "image") == data
    assert records.feature(example, "sha256").decode() == hashlib.sha256(data).hexdigest()
    assert records.feature(example, "label").decode() == name.split("/")[0]
    assert (
      records.feature(example, "height"),
      records.feature(example, "width"),
      records.feature(example, "channels"),
    ) == (16, 16, 1)


def test_split_depends_only_on_the_file_path(image_tree, tmp_path):
  def assignment(examples):
    return {
      records.feature(e, "file_name"): split
      for split in ("train", "eval")
      for e in records.split_examples(examples.uri, split)
    }

  first = assignment(ingestion.run_executor(image_tree, str(tmp_path / "a")))
  second = assignment(ingestion.run_executor(image_tree, str(tmp_path / "b")))
  assert first == second
  # More eval weight moves files only from train to eval, never the other way.
  wider = assignment(
    ingestion.run_executor(image_tree, str(tmp_path / "c"), splits={"train": 1, "eval": 1})
  )
  assert sum(s == "eval" for s in wider.values()) > sum(s == "eval" for s in first.values())


def test_rejects_images_over_the_pixel_limit(image_tree, tmp_path):
  with pytest.raises(ValueError, match="received no images"):
    ingestion.run_executor(image_tree, str(tmp_path / "out"), max_pixels=15 * 15)
  with open(tmp_path / "out" / filenames.INGEST_REPORT) as f:
    report = json.load(f)
  assert report["images_ingested"] == 0
  assert report["images_rejected"]["too_large"] == 60


def test_splits_are_written_with_classes_mixed(image_tree, tmp_path):
  train = records.split_examples(ingestion.run_executor(image_tree, str(tmp_path)).uri, "train")
  assert label_changes([records.feature(e, "label") for e in train]) > len(train) // 2


def test_parallel_workers_write_every_image_once(image_tree, tmp_path, monkeypatch, capsys):
  monkeypatch.setattr(progress, "FIRST", 0.01)  # a progress line however fast the run
  examples = ingestion.run_executor(
    image_tree,
    str(tmp_path / "out"),
    beam_args=["--direct_running_mode=multi_processing", "--direct_num_workers=2"],
  )
  names = [
    records.feature(e, "file_name")
    for split in ("train", "eval")
    for e in records.split_examples(examples.uri, split)
  ]
  assert len(names) == len(set(names)) == 60
  assert examples.get_int_custom_property("images_ingested") == 60
  # Both workers' counts reach the executor's console line: every file read once (the empty
  # one is rejected by its size, unread).
  to_read = sum(
    os.path.getsize(os.path.join(d, f)) > 0 for d, _, names in os.walk(image_tree) for f in names
  )
  lines = [line for line in capsys.readouterr().out.splitlines() if " checked " in line]
  assert lines[-1].startswith(f"[ImageExampleGen] checked {to_read} of {to_read} files ("), lines


def test_duplicates_are_found_across_chunks_buckets_and_workers(image_tree, tmp_path, monkeypatch):
  """Copies far apart in the listing (other classes, other chunks, other Beam workers) meet in
  their content hash's bucket, whatever the number of buckets."""
  tree = str(tmp_path / "tree")
  shutil.copytree(image_tree, tree)
  names = sorted(n for n in os.listdir(os.path.join(tree, "0")) if n.endswith(".png"))
  os.makedirs(os.path.join(tree, "0", "sub"))
  shutil.copy(os.path.join(tree, "0", names[0]), os.path.join(tree, "3", "zz_copy.png"))
  shutil.copy(os.path.join(tree, "0", names[1]), os.path.join(tree, "0", "zz_copy.png"))
  shutil.copy(os.path.join(tree, "0", names[1]), os.path.join(tree, "0", "sub", "copy.png"))
  monkeypatch.setattr(listing, "MAX_CHUNK", 3)
  monkeypatch.setattr(executor, "FILES_PER_BUCKET", 4)  # 16 buckets
  examples = ingestion.run_executor(
    tree,
    str(tmp_path / "out"),
    beam_args=["--direct_running_mode=multi_processing", "--direct_num_workers=2"],
  )
  with open(os.path.join(examples.uri, filenames.INGEST_REPORT)) as f:
    report = json.load(f)
  reasons = {r["path"]: r["reason"] for r in report["rejected_files"]}
  assert reasons == {
    f"0/{names[0]}": "conflicting_labels",
    "3/zz_copy.png": "conflicting_labels",
    "0/zz_copy.png": "duplicate",
    "0/sub/copy.png": "duplicate",
    "3/truncated.png": "truncated_file",
    "1/empty.png": "empty_file",
    "2/notes.txt": "not_an_image",
  }
  assert (report["images_found"], report["images_ingested"]) == (66, 59)
  names = [
    records.feature(e, "file_name")
    for split in ("train", "eval")
    for e in records.split_examples(examples.uri, split)
  ]
  assert len(names) == len(set(names)) == report["images_ingested"]
