"""describe: what a data path is (tree, pre-split folders, manifest) and the classes it holds."""

import pytest

from components.image_example_gen import sources
from components.image_example_gen.errors import InputError
from schemas import filenames
from tests import images, listings


def test_labels_a_vocabulary_file_cannot_hold_are_no_classes_of_a_tree_or_a_manifest(tmp_path):
  tree, manifest = listings.write_invalid_labels(tmp_path)
  assert sources.describe(tree).classes == ["0"]
  assert sources.describe(manifest).classes == ["0", "2"]


def test_pre_split_folders_are_splits_and_their_train_folder_holds_the_classes(tmp_path):
  for split in ("train", "eval", "test"):
    images.write_tree(str(tmp_path / split), images.digit_files({0: 1, 1: 1}, folder="c{digit}"))
  source = sources.describe(str(tmp_path))
  assert source.presplit and source.classes == ["c0", "c1"]
  assert [(s.name, s.pattern) for s in source.input_config.splits] == [
    ("train", "train/*/*"),
    ("eval", "eval/*/*"),
    ("test", "test/*/*"),
  ]
  with pytest.raises(InputError, match=r"--classes not found .*: c2 \(found: c0, c1\)"):
    sources.describe(str(tmp_path), classes=["c0", "c2"])


def test_images_to_classify_are_one_split_of_a_folder_or_a_manifest_maybe_by_span(tmp_path):
  for day in ("day-01", "day-02"):
    images.write_tree(str(tmp_path / day), images.digit_files({0: 1}, folder="any"))
  source = sources.describe_unlabelled(str(tmp_path / "day-{SPAN}"))
  assert (source.input_base, source.presplit, source.classes) == (str(tmp_path), True, [])
  assert [(s.name, s.pattern) for s in source.input_config.splits] == [
    (filenames.INFER_SPLIT, "day-{SPAN}/*/*")
  ]
  (tmp_path / "todo.csv").write_text("path\nday-01/any/x.png\n")
  manifest = sources.describe_unlabelled(str(tmp_path / "todo.csv"))
  assert [s.pattern for s in manifest.input_config.splits] == ["todo.csv"]
  with pytest.raises(InputError, match="nowhere does not exist"):
    sources.describe_unlabelled(str(tmp_path / "nowhere"))
  (tmp_path / "notes.txt").write_text("not images")
  with pytest.raises(InputError, match="notes.txt is not a folder"):
    sources.describe_unlabelled(str(tmp_path / "notes.txt"))
  with pytest.raises(InputError, match="missing.csv does not exist"):
    sources.describe_unlabelled(str(tmp_path / "missing.csv"))
