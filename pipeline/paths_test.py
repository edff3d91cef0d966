"""The paths a run is given, told apart before anything heavy is imported: does not exist, is not
a folder, is not a .csv manifest, is not a file; gs:// paths left to the stages."""

import os

import pytest

from pipeline import paths


@pytest.fixture
def places(tmp_path):
  """A folder, a file, a manifest and a folder named like a manifest."""
  (tmp_path / "tree").mkdir()
  (tmp_path / "notes.txt").write_text("x")
  (tmp_path / "labels.csv").write_text("path,label\n")
  (tmp_path / "folder.csv").mkdir()
  return tmp_path


@pytest.mark.parametrize(
  "name, message",
  [
    ("tree", None),
    ("labels.csv", None),
    ("day-{SPAN}", None),  # the newest span is found later; the folder above it exists
    ("missing", "--data-dir {p}/missing does not exist"),
    ("missing.csv", "--data-dir {p}/missing.csv does not exist"),
    ("notes.txt", "--data-dir {p}/notes.txt is not a folder or a .csv manifest"),
    ("folder.csv", "--data-dir {p}/folder.csv is not a .csv manifest (it is a folder)"),
    ("missing/day-{SPAN}", "--data-dir {p}/missing/day-{{SPAN}}: {p}/missing does not exist"),
    (
      "notes.txt/{SPAN}.csv",
      "--data-dir {p}/notes.txt/{{SPAN}}.csv: {p}/notes.txt is not a folder",
    ),
  ],
)
def test_a_data_path_is_a_folder_or_a_manifest(places, name, message):
  errors = list(paths.data_errors("--data-dir", str(places / name)))
  assert errors == ([message.format(p=places)] if message else [])


def test_a_file_to_read_must_be_one(places):
  assert not list(paths.file_errors("--weights", str(places / "notes.txt")))
  assert list(paths.file_errors("--weights", str(places / "w.h5"))) == [
    f"--weights {places / 'w.h5'} does not exist"
  ]
  assert list(paths.file_errors("--weights", str(places / "tree"))) == [
    f"--weights {places / 'tree'} is not a file"
  ]


def test_an_output_dir_may_be_made_but_not_over_a_file(places):
  for fine in ("tree", "new", "new/deeper"):
    assert not list(paths.output_errors("--output-dir", str(places / fine))), fine
  assert list(paths.output_errors("--output-dir", str(places / "notes.txt"))) == [
    f"--output-dir {places / 'notes.txt'} is not a folder"
  ]
  assert list(paths.output_errors("--output-dir", str(places / "notes.txt" / "out"))) == [
    f"--output-dir {places / 'notes.txt' / 'out'}: {places / 'notes.txt'} is not a folder"
  ]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_an_output_dir_where_nothing_can_be_written_is_refused(places):
  (places / "locked").mkdir(mode=0o555)
  assert list(paths.output_errors("--output-dir", str(places / "locked" / "out"))) == [
    f"--output-dir {places / 'locked' / 'out'}: {places / 'locked'} is not writable"
  ]


def test_nothing_is_checked_on_gs_or_when_unset():
  assert not list(paths.data_errors("--data-dir", "gs://bucket/nowhere"))
  assert not list(paths.data_errors("--infer-dir", None))
  assert not list(paths.file_errors("--weights", "gs://bucket/w.h5"))
  assert not list(paths.output_errors("--output-dir", "gs://bucket/out"))
