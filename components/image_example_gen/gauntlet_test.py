"""Every bad-input case as a real file: each gets its reason, and found = written + rejected."""

import io
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tfx import v1 as tfx
from tfx.orchestration import metadata

from components.image_example_gen import ImageExampleGen
from components.image_example_gen import executor_test
from tests import images


def _pil(array, fmt, mode=None):
  out = io.BytesIO()
  image = Image.fromarray(array)
  (image.convert(mode) if mode else image).save(out, fmt)
  return out.getvalue()


@pytest.fixture(scope="module")
def digit():
  return images.digit_pixels(1, scale=2)[0][0]  # 16 x 16 x 1, uint8


def _good_files(digit):
  gray = digit[..., 0]
  rgb = np.stack([gray, gray // 2, 255 - gray], axis=-1)
  return {
      "cat/a.png": images.encode(digit, "png"),
      "cat/sub/deeper/b.JPG": images.encode(digit, "jpeg"),
      "cat/c.jpeg": images.encode(digit, "jpeg"),
      "cat/d.gif": _pil(gray, "GIF"),
      "cat/e.BMP": _pil(rgb, "BMP"),
      "dog/rgb.png": _pil(rgb, "PNG"),
      "dog/rgba.png": _pil(rgb, "PNG", "RGBA"),
      "dog/palette.png": _pil(rgb, "PNG", "P"),
      "dog/cmyk.jpg": _pil(rgb, "JPEG", "CMYK"),
      "dog/sixteen.png": _pil(gray.astype(np.uint16) * 257, "PNG"),
  }


def _bad_files(digit):
  png, jpeg = images.encode(digit, "png"), images.encode(digit, "jpeg")
  gray = digit[..., 0]
  return {
      "dog/.DS_Store": (b"\x00\x00\x00\x01Bud1", "hidden_file"),
      ".hidden/x.png": (png, "hidden_file"),
      "dog/notes.txt": (b"taken at the zoo", "not_an_image"),
      "dog/fake.png": (b"<html>not a png</html>", "not_an_image"),
      "dog/empty.png": (b"", "empty_file"),
      "dog/cut.png": (png[: len(png) // 2], "truncated_file"),
      "dog/cut.jpg": (jpeg[: len(jpeg) * 3 // 4], "truncated_file"),
      "dog/scan.png": (_pil(gray, "TIFF"), "unsupported_format"),
      "dog/web.jpg": (_pil(gray, "WEBP"), "unsupported_format"),
      "dog/garbage.jpg": (b"\xff\xd8\xff\xe0" + os.urandom(64) + b"\xff\xd9", "decode_error"),
      "dog/huge.png": (_pil(np.zeros((120, 120), np.uint8), "PNG"), "too_large"),
      "dog/tiny.png": (_pil(np.zeros((4, 4), np.uint8), "PNG"), "too_small"),
      "README.md": (b"# my images", "not_in_class_folder"),
      "bird/x.png": (png, "unknown_class"),
  }


@pytest.fixture(scope="module")
def gauntlet(tmp_path_factory, digit):
  """A class-folder tree with every good and bad case, plus links in and out of it."""
  base = tmp_path_factory.mktemp("gauntlet")
  root = base / "images"
  good, bad = _good_files(digit), _bad_files(digit)
  images.write_tree(str(root), dict(good, **{k: v for k, (v, _) in bad.items()}))
  images.write_tree(str(base / "elsewhere"), {"secret.png": images.encode(digit, "png"),
                                              "more/y.png": images.encode(digit, "png")})
  os.symlink(base / "elsewhere" / "secret.png", root / "dog" / "out.png")
  os.symlink(base / "elsewhere" / "more", root / "cat" / "outdir")
  os.symlink(root / "cat" / "a.png", root / "dog" / "in.png")
  expected = {name: reason for name, (_, reason) in bad.items()}
  expected.update({"dog/out.png": "symlink_outside_root", "cat/outdir": "symlink_outside_root"})
  return str(root), sorted(good) + ["dog/in.png"], expected


def _report(examples):
  with open(os.path.join(examples.uri, "ingest_report.json")) as f:
    return json.load(f)


def _assert_counts_add_up(report):
  assert report["images_found"] == report["images_ingested"] + sum(
      report["images_rejected"].values())
  for split in report["splits"].values():
    assert split["found"] == split["written"] + sum(split["rejected"].values())
    for cls in split["classes"].values():
      assert cls["found"] == cls["written"] + cls["rejected"]
  assert sum(s["found"] for s in report["splits"].values()) == report["images_found"]


def test_class_tree_gauntlet(gauntlet, tmp_path):
  root, good, expected = gauntlet
  examples = executor_test.run_executor(
      root, str(tmp_path / "out"), splits={"train": 1, "eval": 1},
      max_pixels=100 * 100, min_size=8, classes=["cat", "dog"])
  report = _report(examples)
  assert {r["path"]: r["reason"] for r in report["rejected_files"]} == expected
  written = sorted(executor_test.feature(e, "file_name").decode()
                   for split in ("train", "eval") for e in executor_test.read_split(examples, split))
  assert written == sorted(good)
  assert report["images_found"] == len(good) + len(expected)
  _assert_counts_add_up(report)
  for split in ("train", "eval"):
    for example in executor_test.read_split(examples, split):
      name = executor_test.feature(example, "file_name").decode()
      assert executor_test.feature(example, "label").decode() == name.split("/")[0]
      assert executor_test.feature(example, "format").decode() in ("png", "jpeg", "gif", "bmp")


def test_manifest_gauntlet(gauntlet, tmp_path):
  root, good, _ = gauntlet
  rows = [(name, name.split("/")[0]) for name in good]
  rows += [(os.path.join(root, "dog", "rgb.png"), "dog"),
          ("cat/sub/../c.jpeg", "cat"), ("../elsewhere/secret.png", "cat"),
          ("cat/d.gif", "horse"), ("cat/missing.png", "cat"), ("dog/palette.png", ""),
          ("dog/notes.txt", "dog"), ("dog/cut.png", "dog")]
  manifest = os.path.join(root, "labels.csv")
  with open(manifest, "w") as f:
    f.write("path,label\n" + "".join(f"{p},{l}\n" for p, l in rows))
  try:
    examples = executor_test.run_executor(manifest, str(tmp_path / "out"),
                                          splits={"train": 1, "eval": 1}, classes=["cat", "dog"])
  finally:
    os.remove(manifest)
  report = _report(examples)
  assert {r["path"]: r["reason"] for r in report["rejected_files"]} == {
      "../elsewhere/secret.png": "path_outside_root", "cat/d.gif": "unknown_class",
      "cat/missing.png": "missing_file", "dog/palette.png": "unknown_class",
      "dog/notes.txt": "not_an_image", "dog/cut.png": "truncated_file"}
  assert report["images_ingested"] == len(good) + 2
  _assert_counts_add_up(report)


def test_pre_split_folders_keep_their_split(tmp_path, digit):
  png = images.encode(digit, "png")
  files = {f"{split}/{cls}/{i}.png": png for split in ("train", "eval", "test")
           for cls in ("cat", "dog") for i in range(3)}
  files["eval/dog/broken.png"] = b""
  images.write_tree(str(tmp_path / "data"), files)
  examples = executor_test.run_executor(str(tmp_path / "data"), str(tmp_path / "out"))
  report = _report(examples)
  assert {n: (s["written"], s["found"]) for n, s in report["splits"].items()} == {
      "train": (6, 6), "eval": (6, 7), "test": (6, 6)}
  assert report["rejected_files"] == [
      {"path": "dog/broken.png", "split": "eval", "class": "dog", "reason": "empty_file"}]
  _assert_counts_add_up(report)


def test_newest_span_is_ingested_and_recorded(tmp_path, digit):
  png = images.encode(digit, "png")
  images.write_tree(str(tmp_path / "data"), {
      f"day-{span}/{cls}/{i}.png": png for span in (1, 2) for cls in ("cat", "dog")
      for i in range(span * 4)})
  example_gen = ImageExampleGen(str(tmp_path / "data" / "day-{SPAN}"))
  db = str(tmp_path / "metadata.db")
  tfx.orchestration.LocalDagRunner().run(tfx.dsl.Pipeline(
      pipeline_name="span-test", pipeline_root=str(tmp_path / "root"), components=[example_gen],
      metadata_connection_config=metadata.sqlite_metadata_connection_config(db)))
  with metadata.Metadata(metadata.sqlite_metadata_connection_config(db)) as m:
    [artifact] = m.store.get_artifacts_by_type("Examples")
  assert artifact.custom_properties["span"].int_value == 2
  report = json.load(open(os.path.join(artifact.uri, "ingest_report.json")))
  assert report["span"] == 2
  assert report["images_found"] == report["images_ingested"] == 16


def test_class_missing_from_train_stops_before_training(tmp_path, digit):
  png = images.encode(digit, "png")
  images.write_tree(str(tmp_path / "data"), {
      "train/cat/1.png": png, "train/dog/1.png": png, "eval/cat/1.png": png,
      "eval/bird/1.png": png})
  with pytest.raises(ValueError, match="bird appear in eval but not in train"):
    executor_test.run_executor(str(tmp_path / "data"), str(tmp_path / "out"))


def test_class_imbalance_is_reported(tmp_path, digit):
  png = images.encode(digit, "png")
  files = {f"{split}/cat/{i}.png": png for split in ("train", "eval") for i in range(20)}
  files.update({"train/dog/1.png": png, "eval/dog/1.png": png})
  images.write_tree(str(tmp_path / "data"), files)
  report = _report(executor_test.run_executor(str(tmp_path / "data"), str(tmp_path / "out")))
  assert report["warnings"] == [
      "class imbalance in train: cat has 20 images, dog only 1 (20x); "
      "consider more dog images or class weights"]
