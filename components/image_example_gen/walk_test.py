"""Walks and manifests are streams: each entry is yielded as it is found."""

import hashlib
import os
import shutil

from components.image_example_gen import checks, walk
from components.image_example_gen.spans import CLASS_PATTERN
from tests import images, listings


def test_a_walk_yields_each_entry_as_it_finds_it(tmp_path):
  images.write_tree(str(tmp_path), images.digit_files({0: 3, 1: 3}, folder="c{digit}"))
  listed = walk.walk_split(str(tmp_path), CLASS_PATTERN)
  first = next(listed.candidates)
  assert first.name.startswith("c0/") and listed.classes == []
  shutil.rmtree(tmp_path / "c1")  # seen as a folder, but not walked yet: its files are not found
  assert [(c.label, c.reason) for c in listed.candidates] == [
    ("c0", None),
    ("c0", None),
    ("c1", "missing_file"),
  ]
  assert listed.classes == ["c0", "c1"]


def test_a_manifest_walk_knows_its_digest_first_and_its_classes_at_the_end(tmp_path):
  images.write_tree(str(tmp_path), images.digit_files({0: 2, 1: 2}, folder="imgs/{digit}"))
  rows = "".join(
    f"imgs/{d}/{n},{d}\n" for d in (0, 1) for n in sorted(os.listdir(tmp_path / "imgs" / str(d)))
  )
  (tmp_path / "labels.csv").write_bytes(b"\xef\xbb\xbfPath , Label\n" + rows.encode())
  listed = walk.walk_split(str(tmp_path), "labels.csv")
  assert listed.manifest_sha256  # known before the rows are read
  assert [(c.label, c.reason) for c in listed.candidates] == [("0", None)] * 2 + [("1", None)] * 2
  assert listed.classes == ["0", "1"]
  assert (
    listed.manifest_sha256 == hashlib.sha256((tmp_path / "labels.csv").read_bytes()).hexdigest()
  )


def test_labels_a_vocabulary_file_cannot_hold_are_invalid_in_trees_and_manifests(tmp_path):
  tree, manifest = listings.write_invalid_labels(tmp_path)
  listed = listings.list_split(tree, CLASS_PATTERN)
  assert sorted((c.label, c.reason) for c in listed.candidates) == [
    (" 2", "invalid_label"),
    (" 2", "invalid_label"),
    ("0", None),
    ("0", None),
    ("one\ntwo", "invalid_label"),
    ("one\ntwo", "invalid_label"),
  ]
  assert listed.classes == ["0"]

  listed = listings.list_split(os.path.dirname(manifest), os.path.basename(manifest))
  assert [(c.label, c.reason) for c in listed.candidates] == [
    ("0", None),
    ("0", None),
    ("one\ntwo", "invalid_label"),
    ("one\x00", "invalid_label"),
    ("2", None),
    ("2", None),
  ]
  assert listed.classes == ["0", "2"]


def test_bidirectional_controls_in_a_class_name_are_invalid_labels(tmp_path):
  """A folder named with U+202E reads reversed wherever it is shown (console, card, labels.txt)."""
  files = images.digit_files({0: 2, 1: 2, 2: 2, 3: 2}, folder="{digit}")
  renamed = {"1/": "cat\u202egnp.exe/", "2/": "x\u2066y/", "3/": "\u202adog/"}
  tree = {}
  for name, data in files.items():
    for old, new in renamed.items():
      name = name.replace(old, new) if name.startswith(old) else name
    tree[name] = data
  images.write_tree(str(tmp_path), tree)
  listed = listings.list_split(str(tmp_path), CLASS_PATTERN)
  reasons = sorted({(c.label, c.reason) for c in listed.candidates})
  assert reasons == [
    ("0", None),
    ("cat\u202egnp.exe", "invalid_label"),
    ("x\u2066y", "invalid_label"),
    ("\u202adog", "invalid_label"),
  ]
  assert listed.classes == ["0"]
  # An arrow or an accent is no control: such names stay classes.
  assert checks.label_problem("caf\u00e9 \u2192 bar") is None


def test_an_unlabelled_walk_finds_images_at_any_depth_with_no_class(tmp_path):
  files = images.digit_files({0: 1, 1: 1}, folder="batch{digit}")
  files["top.png"] = next(iter(files.values()))  # at the root: no class folder needed
  files["notes.txt"] = b"not an image"
  files[".hidden.png"] = b""
  images.write_tree(str(tmp_path), files)
  listed = walk.walk_split(str(tmp_path), CLASS_PATTERN, unlabelled=True)
  found = sorted((c.name, c.label, c.reason) for c in listed.candidates)
  assert found == sorted(
    [(name, "", None) for name in files if name.endswith(".png") and name != ".hidden.png"]
    + [("notes.txt", "", "not_an_image"), (".hidden.png", "", "hidden_file")]
  )
  assert listed.classes == []


def test_an_unlabelled_manifest_needs_only_a_path_column(tmp_path):
  images.write_tree(str(tmp_path), images.digit_files({3: 2}, folder="x"))
  names = sorted(os.listdir(tmp_path / "x"))
  (tmp_path / "infer.csv").write_text("path\n" + "".join(f"x/{n}\n" for n in names) + "y/a.png\n")
  listed = walk.walk_split(str(tmp_path), "infer.csv", unlabelled=True)
  assert [(c.name, c.label, c.reason) for c in listed.candidates] == [
    (f"x/{n}", "", None) for n in names
  ] + [("y/a.png", "", "missing_file")]
