"""Ingestion through local_runner, as a user runs it, on small trees of real digit PNGs:
reruns see every change at any depth (and only changes), no single file stops a run, and data
that cannot train a model stops before training with exit 2, one line and a run summary."""

import glob
import os
import shutil

import pytest

from tests import images, runs

pytestmark = pytest.mark.e2e

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAST = (
  "--epochs",
  "1",
  "--image-size",
  "16",
  "--channels",
  "1",
  "--batch-size",
  "16",
  "--warmup-requests",
  "2",
  "--accuracy-threshold",
  "0",
  "--min-class-recall",
  "0",
  "--min-class-precision",
  "0",
  "--change-threshold",
  "-1",
  "--export",
  "none",
)
LATIN1 = b"latin1_\xe9.png"


def run(data_dir, output_dir, *flags):
  return runs.run_local(data_dir, output_dir, "ingest-e2e", *FAST, *flags, timeout=900)


def assert_ran(result):
  """The pipeline ran to the end and pushed: every gate of FAST holds for any model."""
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def assert_input_error(result, summary, output_dir, *named):
  """Exit 2, one line on stderr naming `named`, the summary with the error, the traceback in
  the log file only."""
  assert result.returncode == 2, result.stdout[-3000:] + result.stderr[-3000:]
  errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
  assert len(errors) == 1 and result.stderr.strip().splitlines()[-1] == errors[0]
  assert "Traceback" not in result.stderr + result.stdout
  for name in named:
    assert name in errors[0], errors[0]
  assert summary["error"] and summary["error"] in errors[0]
  assert summary["blessed"] is False and summary["pushed_model_path"] is None
  assert summary["images_found"] == summary["images_ingested"] + sum(
    summary["images_rejected"].values()
  )
  log = summary["log"]  # this run's log; an earlier run in the same output dir has its own
  assert log in glob.glob(os.path.join(output_dir, "logs", "*.log")) and log in errors[0]
  with open(log) as f:
    assert "Traceback" in f.read()


def add_up(summary):
  assert summary["images_found"] == summary["images_ingested"] + sum(
    summary["images_rejected"].values()
  )
  for split in summary["split_details"].values():
    assert split["found"] == split["written"] + sum(split["rejected"].values())


def test_reruns_see_every_change_at_any_depth_and_nothing_else(tmp_path):
  """120 digits, a third three folders deep, and each entry that used to stop, hang or be
  ingested twice; the output dir inside the data dir."""
  data = str(tmp_path / "data")
  files = images.digit_files({0: 40, 1: 40, 2: 40}, folder="c{digit}")
  files = {
    (n.replace("/", "/sub/sub2/", 1) if i % 3 == 0 else n): d
    for i, (n, d) in enumerate(sorted(files.items()))
  }
  images.write_tree(data, files)
  flat = {d: sorted(n for n in files if n.startswith(f"c{d}/digit")) for d in range(3)}
  os.mkfifo(os.path.join(data, "c0", "pipe.png"))
  with open(os.path.join(os.fsencode(data), b"c1", LATIN1), "wb") as f:
    f.write(images.encode(images.digit_pixels(1797)[-1][0], "png"))  # another digit
  os.symlink("loop.png", os.path.join(data, "c2", "loop.png"))
  os.symlink("nothing_here.png", os.path.join(data, "c0", "sub", "sub2", "gone.png"))
  shutil.copy(os.path.join(data, flat[1][0]), os.path.join(data, "c1", "sub", "copy.png"))
  os.symlink(os.path.join(data, flat[0][0]), os.path.join(data, "c2", "from_c0.png"))
  output_dir = os.path.join(data, "tfx_output")

  result, first = run(data, output_dir)
  assert_ran(result)
  assert first["images_rejected"] == {
    "conflicting_labels": 2,
    "duplicate": 1,
    "missing_file": 1,
    "not_a_regular_file": 1,
    "symlink_loop": 1,
  }
  assert (first["images_found"], first["images_ingested"]) == (126, 120)
  assert first["skipped_folders"] == ["tfx_output"]
  assert first["anomalies"] == {"eval": {}, "train": {}}  # sha256 and a non-UTF-8 file name
  add_up(first)
  assert (
    runs.mlmd_states(output_dir, "ingest-e2e", first["run_id"])["ImageExampleGen"] == "COMPLETE"
  )

  # Nothing changed but the output dir (reports, PNGs, metadata): ExampleGen is cached.
  assert os.path.exists(os.path.join(output_dir, "report", "confusion_matrix.png"))
  result, again = run(data, output_dir)
  assert_ran(result)
  assert runs.mlmd_states(output_dir, "ingest-e2e", again["run_id"])["ImageExampleGen"] == "CACHED"
  assert (again["images_found"], again["images_ingested"]) == (126, 120)

  # Five images added, two overwritten with text and one deleted, all deep down.
  images.write_tree(data, images.digit_files({0: 5}, folder="c0/sub/sub2", skip=40))
  deep = [n for n in sorted(files) if "/sub/sub2/" in n and not n.startswith("c0/")]
  for name in deep[:2]:
    with open(os.path.join(data, name), "w") as f:
      f.write("overwritten with text")
  os.remove(os.path.join(data, deep[2]))
  result, changed = run(data, output_dir)
  assert_ran(result)
  assert (
    runs.mlmd_states(output_dir, "ingest-e2e", changed["run_id"])["ImageExampleGen"] == "COMPLETE"
  )
  assert (changed["images_found"], changed["images_ingested"]) == (130, 122)
  assert changed["images_rejected"]["not_an_image"] == 2
  add_up(changed)


def test_a_changed_manifest_listed_file_is_read_again(tmp_path):
  """A manifest saved as "CSV UTF-8" (BOM); its images overwritten, the CSV unchanged."""
  data = tmp_path / "m"
  files = images.digit_files({0: 30, 1: 30, 2: 30}, folder="imgs/{digit}")
  images.write_tree(str(data), files)
  images.write_tree(
    str(tmp_path / "outside"),
    {"secret.png": images.encode(images.digit_pixels(1797)[-1][0], "png")},
  )
  os.symlink(tmp_path / "outside", data / "ext")  # a folder link leaving the manifest's folder
  rows = [f"{n},{n.split('/')[1]}" for n in sorted(files)]
  rows += ["ext/secret.png,0", "../outside/secret.png,0"]
  (data / "labels.csv").write_text("path,label\n" + "\n".join(rows) + "\n", encoding="utf-8-sig")
  output_dir = str(tmp_path / "out")

  result, first = run(str(data / "labels.csv"), output_dir)
  assert_ran(result)
  assert first["images_rejected"] == {"path_outside_root": 2}
  assert (first["images_found"], first["images_ingested"]) == (92, 90)

  for name in files:
    (data / name).write_text("not an image any more")
  result, second = run(str(data / "labels.csv"), output_dir)
  assert (
    runs.mlmd_states(output_dir, "ingest-e2e", second["run_id"])["ImageExampleGen"] == "FAILED"
  )  # read again, not cached
  assert_input_error(result, second, output_dir, "no training image for class(es) 0", "1", "2")
  assert second["images_rejected"] == {"not_an_image": 90, "path_outside_root": 2}
  assert second["images_found"] == 92


def _all_corrupt(data):
  images.write_tree(
    data, {f"c{c}/x{i}.png": f"text {c} {i}".encode() for c in range(2) for i in range(3)}
  )
  return (), ("c0 (3 files: 3 not_an_image)", "c1 (3 files: 3 not_an_image)"), (6, 0)


def _unusable_classes(data):
  """A class of HEIC files named .jpg, one of only .DS_Store, one linked from outside."""
  files = images.digit_files({0: 20, 1: 20}, folder="c{digit}")
  files.update({f"c2/w{i}.jpg": b"\x00\x00\x00\x18ftypheic" + bytes(40 + i) for i in range(3)})
  files["c3/.DS_Store"] = b"\x00\x00\x00\x01Bud1"
  images.write_tree(data, files)
  outside = data + "_elsewhere"
  images.write_tree(outside, images.digit_files({4: 3}, folder="."))
  os.symlink(outside, os.path.join(data, "c4"))
  return (
    (),
    (
      "c2 (3 files: 3 unsupported_format)",
      "c3 (1 file: 1 hidden_file)",
      "c4 (1 file: 1 symlink_outside_root)",
    ),
    (45, 40),
  )


# The whole path (exit 2, one line, the counts found) for two kinds of data; the other rules
# (one image a class, a --classes name with no images, a class missing from a split) are the
# unit tests' of components/image_example_gen/report.py and pipeline/inputs.py.
@pytest.mark.parametrize("make", [_all_corrupt, _unusable_classes])
def test_data_that_cannot_train_stops_before_training_with_exit_2(tmp_path, make):
  data, output_dir = str(tmp_path / "data"), str(tmp_path / "out")
  flags, named, (found, ingested) = make(data)
  result, summary = run(data, output_dir, *flags)
  assert_input_error(result, summary, output_dir, *named)
  assert (summary["images_found"], summary["images_ingested"]) == (found, ingested)
  assert "Trainer" not in result.stderr  # stopped before training
