"""The error a data source raises when it cannot be used at all."""


class InputError(ValueError):
  """The data source cannot be used at all (as opposed to single files that are rejected)."""
