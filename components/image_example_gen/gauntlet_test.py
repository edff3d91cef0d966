"""Every bad-input case as a real file: each gets its reason, and found = written + rejected."""

import contextlib
import hashlib
import io
import json
import os
import signal
import time

import numpy as np
import pytest
from PIL import Image
from tfx import v1 as tfx
from tfx.orchestration import metadata

from components.image_example_gen import (
  ImageExampleGen,
  checks,
  files,
  ingest,
  spans,
  spool,
)
from tests import images, ingestion, listings, records

pytestmark = pytest.mark.integration  # Beam, TFX executors, training or subprocesses

LATIN1 = b"dog/latin1_\xe9.png"  # a file name that is not UTF-8


def _pil(array, fmt, mode=None, **options):
  out = io.BytesIO()
  image = Image.fromarray(array)
  (image.convert(mode) if mode else image).save(out, fmt, **options)
  return out.getvalue()


@pytest.fixture(scope="module")
def digits():
  """Different real digits, 16 x 16 x 1 uint8: no two files made from them are alike."""
  return [pixels for pixels, _ in images.digit_pixels(40, scale=2)]


@contextlib.contextmanager
def deadline(seconds):
  """Fails instead of hanging (a FIFO opened for reading blocks until a writer comes)."""

  def expire(*_):
    raise TimeoutError(f"still running after {seconds} s")

  previous = signal.signal(signal.SIGALRM, expire)
  signal.alarm(seconds)
  try:
    yield
  finally:
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _good_files(digits):
  """Written: every format and mode, at any depth."""

  def rgb(d):
    gray = d[..., 0]
    return np.stack([gray, gray // 2, 255 - gray], axis=-1)

  return {
    "cat/a.png": images.encode(digits[0], "png"),
    "cat/d.gif": _pil(digits[3][..., 0], "GIF"),
    "cat/e.BMP": _pil(rgb(digits[4]), "BMP"),
    "cat/f.png": images.encode(digits[5], "png"),
    "cat/h.png": images.encode(digits[13], "png"),
    "cat/sub/i.png": images.encode(digits[14], "png"),
    "dog/rgb.png": _pil(rgb(digits[6]), "PNG"),
    "dog/rgba.png": _pil(rgb(digits[7]), "PNG", "RGBA"),
    "dog/palette.png": _pil(rgb(digits[8]), "PNG", "P"),
    "dog/cmyk.jpg": _pil(rgb(digits[9]), "JPEG", "CMYK"),
    "dog/sixteen.png": _pil(digits[10][..., 0].astype(np.uint16) * 257, "PNG"),
    "dog/g.png": images.encode(digits[11], "png"),
    "dog/web.webp": _pil(rgb(digits[12]), "WEBP"),
    "dog/lossless.jpg": _pil(digits[15][..., 0], "WEBP", lossless=True),  # named .jpg
  }


def _bad_files(digits):
  png, jpeg = images.encode(digits[20], "png"), images.encode(digits[21], "jpeg")
  gray = digits[22][..., 0]
  return {
    "dog/.DS_Store": (b"\x00\x00\x00\x01Bud1", "hidden_file"),
    ".hidden/x.png": (png, None),  # inside a hidden folder: the folder is reported, once
    "dog/notes.txt": (b"taken at the zoo", "not_an_image"),
    "dog/fake.png": (b"<html>not a png</html>", "not_an_image"),
    "dog/empty.png": (b"", "empty_file"),
    "dog/cut.png": (png[: len(png) // 2], "truncated_file"),
    "dog/cut.jpg": (jpeg[: len(jpeg) * 3 // 4], "truncated_file"),
    "dog/scan.png": (_pil(gray, "TIFF"), "unsupported_format"),
    "dog/cut.webp": (_pil(gray, "WEBP")[:-30], "truncated_file"),
    "dog/heic.jpg": (b"\x00\x00\x00\x18ftypheic" + bytes(40), "unsupported_format"),
    "dog/garbage.jpg": (b"\xff\xd8\xff\xe0" + os.urandom(64) + b"\xff\xd9", "decode_error"),
    "dog/huge.png": (_pil(np.zeros((120, 120), np.uint8), "PNG"), "too_large"),
    "dog/tiny.png": (_pil(np.zeros((4, 4), np.uint8), "PNG"), "too_small"),
    "README.md": (b"# my images", "not_in_class_folder"),
    "bird/x.png": (png, "unknown_class"),
  }


@pytest.fixture(scope="module")
def gauntlet(tmp_path_factory, digits):
  """A class-folder tree with every good and bad case, links in and out of it, duplicates, a
  FIFO, link loops, a dangling link deep down, a non-UTF-8 name and the pipeline's output dir.

  Returns (root, names written, {name: reason} rejected, output dir inside the root)."""
  base = tmp_path_factory.mktemp("gauntlet")
  root = base / "images"
  good, bad = _good_files(digits), _bad_files(digits)
  images.write_tree(str(root), dict(good, **{k: v for k, (v, _) in bad.items()}))
  images.write_tree(
    str(base / "elsewhere"),
    {
      "secret.png": images.encode(digits[30], "png"),
      "more/y.png": images.encode(digits[31], "png"),
    },
  )
  os.symlink(base / "elsewhere" / "secret.png", root / "dog" / "out.png")
  os.symlink(base / "elsewhere" / "more", root / "cat" / "outdir")
  os.symlink(root / "cat", root / "cat" / "sub" / "up")  # a linked folder inside the root
  # Identical bytes: in one class, the first in path order is kept; across classes, none is.
  images.write_tree(
    str(root),
    {
      "cat/sub/copy_of_a.png": good["cat/a.png"],
      "cat/b.JPG": images.encode(digits[1], "jpeg"),
      "dog/same_as_b.jpg": images.encode(digits[1], "jpeg"),
      "cat/c.jpeg": images.encode(digits[2], "jpeg"),
    },
  )
  os.symlink(root / "cat" / "f.png", root / "cat" / "zz_alias.png")
  os.symlink(root / "cat" / "c.jpeg", root / "dog" / "in.png")
  # Entries that used to stop or hang the run.
  os.mkfifo(root / "dog" / "pipe.png")
  os.symlink("loop.png", root / "dog" / "loop.png")
  (root / "cat" / "sub" / "deeper").mkdir()
  os.symlink("nowhere.png", root / "cat" / "sub" / "deeper" / "dangling.png")
  with open(os.path.join(os.fsencode(root), LATIN1), "wb") as f:
    f.write(images.encode(digits[12], "png"))
  # The pipeline's output dir inside the data dir: never listed.
  images.write_tree(
    str(root / "tfx_output"),
    {"report/confusion_matrix.png": good["dog/g.png"], "metadata.db": b"sqlite"},
  )
  written = sorted(list(good) + ["dog/latin1_\\xe9.png"])
  rejected = {name: reason for name, (_, reason) in bad.items() if reason}
  rejected.update(
    {
      ".hidden": "hidden_file",
      "dog/out.png": "symlink_outside_root",
      "cat/outdir": "symlink_outside_root",
      "cat/sub/up": "linked_folder",
      "cat/sub/copy_of_a.png": "duplicate",
      "cat/zz_alias.png": "duplicate",
      "cat/b.JPG": "conflicting_labels",
      "dog/same_as_b.jpg": "conflicting_labels",
      "cat/c.jpeg": "conflicting_labels",
      "dog/in.png": "conflicting_labels",
      "dog/pipe.png": "not_a_regular_file",
      "dog/loop.png": "symlink_loop",
      "cat/sub/deeper/dangling.png": "missing_file",
    }
  )
  return str(root), written, rejected, str(root / "tfx_output")


def _report(examples):
  with open(os.path.join(examples.uri, "ingest_report.json")) as f:
    return json.load(f)


def _written(examples):
  return sorted(
    records.feature(e, "file_name")
    for split in ("train", "eval")
    for e in records.split_examples(examples.uri, split)
  )


def _assert_counts_add_up(report):
  assert report["images_found"] == report["images_ingested"] + sum(
    report["images_rejected"].values()
  )
  for split in report["splits"].values():
    assert split["found"] == split["written"] + sum(split["rejected"].values())
    for cls in split["classes"].values():
      assert cls["found"] == cls["written"] + cls["rejected"]
  assert sum(s["found"] for s in report["splits"].values()) == report["images_found"]


def test_class_tree_gauntlet(gauntlet, tmp_path):
  root, written, rejected, output_dir = gauntlet
  with deadline(120):
    examples = ingestion.run_executor(
      root,
      str(tmp_path / "out"),
      splits={"train": 1, "eval": 1},
      max_pixels=100 * 100,
      min_size=8,
      classes=["cat", "dog"],
      skip_dirs=[output_dir],
    )
  report = _report(examples)
  assert {r["path"]: r["reason"] for r in report["rejected_files"]} == rejected
  # The name that is not UTF-8 is written with its bytes, and reported with escapes.
  assert _written(examples) == sorted(
    files.encode(n) if "\\xe9" not in n else LATIN1 for n in written
  )
  assert report["images_found"] == len(written) + len(rejected)
  assert report["skipped_folders"] == ["tfx_output"]
  _assert_counts_add_up(report)
  details = {r["path"]: r for r in report["rejected_files"]}
  assert details["cat/sub/copy_of_a.png"]["duplicate_of"]["path"] == "cat/a.png"
  assert details["cat/zz_alias.png"]["duplicate_of"]["path"] == "cat/f.png"
  assert {(c["path"], c["class"]) for c in details["dog/in.png"]["conflicts_with"]} == {
    ("cat/c.jpeg", "cat")
  }
  assert report["images_rejected"]["conflicting_labels"] == 4
  assert report["images_rejected"]["duplicate"] == 2
  for split in ("train", "eval"):
    for example in records.split_examples(examples.uri, split):
      name = records.feature(example, "file_name")
      assert records.feature(example, "label") == name.split(b"/")[0]
      assert records.feature(example, "format").decode() in checks.SUPPORTED_FORMATS
  hashes = [
    records.feature(e, "sha256")
    for split in ("train", "eval")
    for e in records.split_examples(examples.uri, split)
  ]
  assert len(hashes) == len(set(hashes))  # no image twice, in any split


def test_keep_duplicates_writes_every_copy_but_never_conflicting_labels(gauntlet, tmp_path):
  root, written, rejected, output_dir = gauntlet
  with deadline(120):
    examples = ingestion.run_executor(
      root,
      str(tmp_path / "out"),
      splits={"train": 1, "eval": 1},
      max_pixels=100 * 100,
      min_size=8,
      classes=["cat", "dog"],
      skip_dirs=[output_dir],
      keep_duplicates=True,
    )
  report = _report(examples)
  assert "duplicate" not in report["images_rejected"]
  assert report["images_rejected"]["conflicting_labels"] == 4
  assert report["images_ingested"] == len(written) + 2
  _assert_counts_add_up(report)


def test_a_fifo_is_rejected_without_being_opened(gauntlet):
  root = gauntlet[0]
  fifo = os.path.join(root, "dog", "pipe.png")
  started = time.monotonic()
  with deadline(10):
    listed = {c.name: c.reason for c in listings.list_candidates(root, spans.CLASS_PATTERN)}
    assert files.read_file(fifo) == ("not_a_regular_file", b"")  # were it listed as a file
  assert listed["dog/pipe.png"] == "not_a_regular_file"
  assert time.monotonic() - started < 5


def test_manifest_gauntlet(gauntlet, tmp_path):
  root, written, _, _ = gauntlet
  good = [n for n in written if "\\x" not in n]
  rows = [(name, name.split("/")[0]) for name in good]
  os.symlink(os.path.join(os.path.dirname(root), "elsewhere"), os.path.join(root, "via_link"))
  rows += [
    (os.path.join(root, "dog", "rgb.png"), "dog"),  # absolute: allowed, same bytes
    ("cat/sub/../a.png", "cat"),  # the same file again
    ("../elsewhere/secret.png", "cat"),
    ("via_link/more/y.png", "cat"),  # both outside
    ("cat/d.gif", "horse"),
    ("cat/missing.png", "cat"),
    ("dog/palette.png", ""),
    ("dog/notes.txt", "dog"),
    ("dog/cut.png", "dog"),
    ("dog/pipe.png", "dog"),
    ("dog/loop.png", "dog"),
    ("cat/h.png", "dog"),
  ]
  manifest = os.path.join(root, "labels.csv")
  with open(manifest, "w", encoding="utf-8-sig") as f:  # "CSV UTF-8": with a byte-order mark
    f.write("path,label\n" + "".join(f"{path},{label}\n" for path, label in rows))
  try:
    with deadline(120):
      examples = ingestion.run_executor(
        manifest, str(tmp_path / "out"), splits={"train": 1, "eval": 1}, classes=["cat", "dog"]
      )
  finally:
    os.remove(manifest)
    os.remove(os.path.join(root, "via_link"))
  report = _report(examples)
  assert {r["path"]: r["reason"] for r in report["rejected_files"]} == {
    "dog/rgb.png": "duplicate",
    "cat/a.png": "duplicate",  # the absolute path sorts first
    "../elsewhere/secret.png": "path_outside_root",
    "via_link/more/y.png": "path_outside_root",
    "cat/d.gif": "unknown_class",
    "cat/missing.png": "missing_file",
    "dog/palette.png": "unknown_class",
    "dog/notes.txt": "not_an_image",
    "dog/cut.png": "truncated_file",
    "dog/pipe.png": "not_a_regular_file",
    "dog/loop.png": "symlink_loop",
    "cat/h.png": "conflicting_labels",
  }
  # cat/h.png is listed as cat and as dog: both rows are rejected.
  assert report["images_rejected"]["conflicting_labels"] == 2
  assert report["images_ingested"] == len(good) - 1
  _assert_counts_add_up(report)


def test_pre_split_folders_keep_their_split_and_share_no_image(tmp_path):
  files = images.digit_files({0: 9, 1: 9}, folder="{digit}", scale=2)
  tree = {
    f"{('train', 'eval', 'test')[i % 3]}/{name}": data
    for i, (name, data) in enumerate(sorted(files.items()))
  }
  tree["eval/1/broken.png"] = b""
  train_copy = next(n for n in tree if n.startswith("train/0/"))
  tree["test/0/leaked.png"] = tree[train_copy]  # the same image in train and test
  images.write_tree(str(tmp_path / "data"), tree)
  examples = ingestion.run_executor(str(tmp_path / "data"), str(tmp_path / "out"))
  report = _report(examples)
  # Written once, the first in path order below the data root: test/ before train/.
  assert {n: (s["written"], s["found"]) for n, s in report["splits"].items()} == {
    "train": (5, 6),
    "eval": (6, 7),
    "test": (7, 7),
  }
  assert {(r["path"], r["split"], r["reason"]) for r in report["rejected_files"]} == {
    ("1/broken.png", "eval", "empty_file"),
    (train_copy[len("train/") :], "train", "duplicate"),
  }
  leaked = next(r for r in report["rejected_files"] if r["reason"] == "duplicate")
  assert leaked["duplicate_of"] == {"path": "0/leaked.png", "class": "0", "split": "test"}
  _assert_counts_add_up(report)


def test_newest_span_is_ingested_and_recorded(tmp_path):
  files = images.digit_files({0: 12, 1: 12}, folder="{digit}")
  names = sorted(files)
  tree = {f"day-{1 + i % 2}/{name}": files[name] for i, name in enumerate(names)}
  tree.update({f"day-03/{name}": files[name] for name in names})  # {SPAN} matches any width
  images.write_tree(str(tmp_path / "data"), tree)
  example_gen = ImageExampleGen(
    str(tmp_path / "data" / "day-{SPAN}"), splits={"train": 1, "eval": 1}
  )
  db = str(tmp_path / "metadata.db")
  tfx.orchestration.LocalDagRunner().run(
    tfx.dsl.Pipeline(
      pipeline_name="span-test",
      pipeline_root=str(tmp_path / "root"),
      components=[example_gen],
      metadata_connection_config=metadata.sqlite_metadata_connection_config(db),
    )
  )
  with metadata.Metadata(metadata.sqlite_metadata_connection_config(db)) as m:
    [artifact] = m.store.get_artifacts_by_type("Examples")
  assert artifact.custom_properties["span"].int_value == 3
  assert artifact.custom_properties["input_fingerprint"].string_value.startswith(
    "split:images,files:24,"
  )
  report = json.load(open(os.path.join(artifact.uri, "ingest_report.json")))
  assert report["span"] == 3
  assert report["images_found"] == report["images_ingested"] == 24


def test_class_missing_from_train_stops_before_training(tmp_path):
  files = images.digit_files({0: 3, 1: 3, 2: 1}, folder="{digit}")
  tree = {}
  for name, data in sorted(files.items()):
    split = "eval" if name.startswith("2/") or len(tree) % 2 else "train"
    tree[f"{split}/{name}"] = data
  images.write_tree(str(tmp_path / "data"), tree)
  with pytest.raises(ValueError, match="2 appear in eval but not in train") as raised:
    ingestion.run_executor(str(tmp_path / "data"), str(tmp_path / "out"))
  assert raised.value.report["images_found"] == 7  # the report travels with the error


def test_class_imbalance_is_reported(tmp_path):
  files = images.digit_files({0: 40}, folder="cat")
  files.update(images.digit_files({1: 2}, folder="dog"))
  tree = {
    f"{('train', 'eval')[i % 2]}/{name}": data
    for i, (name, data) in enumerate(sorted(files.items()))
  }
  images.write_tree(str(tmp_path / "data"), tree)
  report = _report(ingestion.run_executor(str(tmp_path / "data"), str(tmp_path / "out")))
  assert report["warnings"] == [
    "class imbalance in train: cat has 20 images, dog only 1 (20x); "
    "consider more dog images or class weights"
  ]


def test_a_class_name_that_is_not_utf8_is_rejected_and_named(tmp_path):
  root = os.fsencode(tmp_path / "data")
  images.write_tree(str(tmp_path / "data"), images.digit_files({0: 8, 1: 8}, folder="c{digit}"))
  os.makedirs(os.path.join(root, b"caf\xe9"))
  for name, data in images.digit_files({2: 2}, folder=".").items():
    with open(os.path.join(root, b"caf\xe9", os.fsencode(os.path.basename(name))), "wb") as f:
      f.write(data)
  with pytest.raises(
    ValueError,
    match=r"no training image for class\(es\) caf\\xe9 "
    r"\(2 files: 2 undecodable_name\)",
  ) as raised:
    ingestion.run_executor(
      str(tmp_path / "data"), str(tmp_path / "out"), splits={"train": 1, "eval": 1}
    )
  report = raised.value.report
  assert report["images_rejected"] == {"undecodable_name": 2}
  assert {r["class"] for r in report["rejected_files"]} == {"caf\\xe9"}
  json.dumps(report).encode("ascii")  # no surrogates left in the report


def _decide(folder, row, checked, carried=b""):
  """Decide's outputs (tag: value) for one file checked with the bytes `checked` (and carrying
  `carried`), with the examples it wrote under "examples"."""
  writer = spool.Writer(str(folder), buckets=1)
  writer.add(hashlib.sha256(checked).digest(), ingest.record_meta(row, [16, 16, 1, 0.0]), carried)
  [(bucket, path)] = writer.close()
  decide = ingest.Decide(keep_duplicates=False, folder=str(folder))
  decide.start_bundle()
  outputs = list(decide.process((bucket, [path]))) + list(decide.finish_bundle())
  outputs = {o.tag: o.value for o in outputs}
  if "shards" in outputs:
    split, shard = outputs["shards"].value
    outputs["examples"] = [(split, e) for e in records.examples(shard)]
  return outputs


def test_a_file_changed_between_its_check_and_its_write_is_rejected(tmp_path, digits):
  path = tmp_path / "a.png"
  checked, written = images.encode(digits[0], "png"), images.encode(digits[1], "png")
  path.write_bytes(written)  # what is there when the kept files are read again
  row = ingest.Row(str(path), "c0/a.png", "c0", None, "train", "c0/a.png")
  outputs = _decide(tmp_path, row, checked)
  assert json.loads(outputs["rejected"]) == [
    "train",
    "c0",
    "changed_during_ingest",
    "c0/a.png",
    None,
  ]
  assert "examples" not in outputs
  outputs = _decide(tmp_path, row, written)
  [(split, example)] = outputs["examples"]
  assert (split, records.feature(example, "image")) == ("train", written)
  assert outputs["counts"] == ('["train", "c0"]', 1)
  # A small file travels in the spool: what is written is what was checked, whatever happened
  # to the file since.
  [(_, example)] = _decide(tmp_path, row, checked, carried=checked)["examples"]
  assert records.feature(example, "image") == checked
