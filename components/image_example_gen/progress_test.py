"""Ingestion progress lines: the counts the workers append, added up while Beam runs."""

import time

from components.image_example_gen import progress


def test_counts_appended_by_chunks_are_added_up(tmp_path):
  path = progress.progress_file(str(tmp_path))
  assert progress.checked(path) == 0  # nothing checked yet
  for count in (200, 200, 37):
    progress.add(path, count)
  assert progress.checked(path) == 437
  assert progress.progress_file("gs://bucket/report") is None
  progress.add(None, 5)  # remote: nothing recorded, nothing fails


def test_a_line_while_running_once_the_total_is_known(tmp_path, capsys, monkeypatch):
  monkeypatch.setattr(progress, "FIRST", 0.05)
  monkeypatch.setattr(progress, "EARLY", 0.05)
  path = progress.progress_file(str(tmp_path))
  with progress.Reporter(path) as reporter:
    progress.add(path, 120)
    time.sleep(0.3)
    assert capsys.readouterr().out == ""  # the total is not known yet: no line
    reporter.total = 1500
    time.sleep(0.3)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1, lines  # one line per change, not per tick
    assert lines[0].startswith("[ImageExampleGen] checked 120 of 1,500 files (")
    progress.add(path, 1380)
  assert capsys.readouterr().out.startswith("[ImageExampleGen] checked 1,500 of 1,500 files (")


def test_a_short_run_prints_nothing(tmp_path, capsys):
  path = progress.progress_file(str(tmp_path))
  with progress.Reporter(path, total=10):
    progress.add(path, 10)
  assert capsys.readouterr().out == ""
