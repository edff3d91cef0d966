"""Listings held whole, for tests: walk_split's streamed candidates in a list."""

from typing import List, Sequence

from components.image_example_gen import walk


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
