"""Walks and manifests are streams: each entry is yielded as it is found."""

import hashlib
import os
import shutil

from components.image_example_gen import sources
from tests import images


def test_a_walk_yields_each_entry_as_it_finds_it(tmp_path):
  images.write_tree(str(tmp_path), images.digit_files({0: 3, 1: 3}, folder="c{digit}"))
  walk = sources.walk_split(str(tmp_path), sources.CLASS_PATTERN)
  first = next(walk.candidates)
  assert first.name.startswith("c0/") and walk.classes == []
  shutil.rmtree(tmp_path / "c1")  # seen as a folder, but not walked yet: its files are not found
  assert [(c.label, c.reason) for c in walk.candidates] == [
    ("c0", None),
    ("c0", None),
    ("c1", "missing_file"),
  ]
  assert walk.classes == ["c0", "c1"]


def test_a_manifest_walk_knows_its_digest_first_and_its_classes_at_the_end(tmp_path):
  images.write_tree(str(tmp_path), images.digit_files({0: 2, 1: 2}, folder="imgs/{digit}"))
  rows = "".join(
    f"imgs/{d}/{n},{d}\n" for d in (0, 1) for n in sorted(os.listdir(tmp_path / "imgs" / str(d)))
  )
  (tmp_path / "labels.csv").write_bytes(b"\xef\xbb\xbfPath , Label\n" + rows.encode())
  walk = sources.walk_split(str(tmp_path), "labels.csv")
  assert walk.manifest_sha256  # known before the rows are read
  assert [(c.label, c.reason) for c in walk.candidates] == [("0", None)] * 2 + [("1", None)] * 2
  assert walk.classes == ["0", "1"]
  assert walk.manifest_sha256 == hashlib.sha256((tmp_path / "labels.csv").read_bytes()).hexdigest()


def test_labels_a_vocabulary_file_cannot_hold_are_invalid_in_trees_and_manifests(tmp_path):
  files = images.digit_files({0: 2, 1: 2, 2: 2}, folder="{digit}")
  tree = {n.replace("1/", "one\ntwo/").replace("2/", " 2/"): d for n, d in files.items()}
  images.write_tree(str(tmp_path / "tree"), tree)
  walk = sources.list_split(str(tmp_path / "tree"), sources.CLASS_PATTERN)
  assert sorted((c.label, c.reason) for c in walk.candidates) == [
    (" 2", "invalid_label"),
    (" 2", "invalid_label"),
    ("0", None),
    ("0", None),
    ("one\ntwo", "invalid_label"),
    ("one\ntwo", "invalid_label"),
  ]
  assert walk.classes == ["0"]
  assert sources.describe(str(tmp_path / "tree")).classes == ["0"]

  images.write_tree(str(tmp_path / "m"), files)
  rows = [f"{n},{n[0]}" for n in sorted(files)]
  rows[2] = f'{sorted(files)[2]},"one\ntwo"'  # quoted: a newline inside the label
  rows[3] = f"{sorted(files)[3]},one\x00"
  rows[4] = f"{sorted(files)[4]},  2 "  # surrounding spaces are normalised away, as for paths
  (tmp_path / "m" / "labels.csv").write_text("path,label\n" + "\n".join(rows) + "\n")
  manifest = str(tmp_path / "m" / "labels.csv")
  walk = sources.list_split(str(tmp_path / "m"), "labels.csv")
  assert [(c.label, c.reason) for c in walk.candidates] == [
    ("0", None),
    ("0", None),
    ("one\ntwo", "invalid_label"),
    ("one\x00", "invalid_label"),
    ("2", None),
    ("2", None),
  ]
  assert walk.classes == ["0", "2"]
  assert sources.describe(manifest).classes == ["0", "2"]
