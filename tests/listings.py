"""Listings held whole, for tests: walk_split's streamed candidates in a list; data whose
labels a vocabulary file cannot hold."""

from typing import List, Sequence

from components.image_example_gen import walk
from tests import images


def list_split(
  input_base: str,
  split_pattern: str,
  classes: Sequence[str] = (),
  skip_dirs: Sequence[str] = (),
  stamps: bool = False,
) -> walk.Listing:
  """walk_split's listing with its candidates in a list."""
  listing = walk.walk_split(input_base, split_pattern, classes, skip_dirs, stamps)
  listing.candidates = list(listing.candidates)
  return listing


def list_candidates(
  input_base: str, split_pattern: str, classes: Sequence[str] = ()
) -> List[walk.Candidate]:
  """The candidates of one input split (its pattern already has the span filled in)."""
  return list_split(input_base, split_pattern, classes).candidates


def write_invalid_labels(tmp_path):
  """A tree and a manifest whose labels include some a vocabulary file cannot hold: (tree root,
  manifest path)."""
  files = images.digit_files({0: 2, 1: 2, 2: 2}, folder="{digit}")
  tree = {n.replace("1/", "one\ntwo/").replace("2/", " 2/"): d for n, d in files.items()}
  images.write_tree(str(tmp_path / "tree"), tree)
  images.write_tree(str(tmp_path / "m"), files)
  rows = [f"{n},{n[0]}" for n in sorted(files)]
  rows[2] = f'{sorted(files)[2]},"one\ntwo"'  # quoted: a newline inside the label
  rows[3] = f"{sorted(files)[3]},one\x00"
  rows[4] = f"{sorted(files)[4]},  2 "  # surrounding spaces are normalised away, as for paths
  (tmp_path / "m" / "labels.csv").write_text("path,label\n" + "\n".join(rows) + "\n")
  return str(tmp_path / "tree"), str(tmp_path / "m" / "labels.csv")
