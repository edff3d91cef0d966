"""User-supplied text (class names, paths, labels) made safe where the report renders it.

Kubeflow and Vertex AI render a model card as Markdown, raw HTML included: a class named
`<script>…</script>` must arrive as text, and a `|` in a class name must not add a table cell.
Matplotlib reads `$…$` in a label as TeX (and fails on bad TeX): a class named `$x` stays text.
A spreadsheet runs a CSV cell that begins with `=` as a formula: a class named `=HYPERLINK(…)`
is written as `'=HYPERLINK(…)`.
"""

import re

from schemas import csv_cells

# The punctuation that starts or ends markup mid-line (emphasis, code, links, table cells,
# strikethrough, and $ math where a renderer has it: GitHub, Jupyter); a backslash makes each
# literal. '<', '>' and '&' become entities.
_PUNCTUATION = re.compile(r"([\\`*_\[\]|~$])")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
_BREAKS = re.compile(r"[\r\n\u2028\u2029\x00-\x1f\x7f]+")


def one_line(value: object) -> str:
  """The value as text on one line (e.g. a console line): line breaks and control characters
  (a terminal's escape sequences among them) become a space."""
  return _BREAKS.sub(" ", str(value))


def markdown(value: object) -> str:
  """Plain text for a Markdown line or table cell: HTML characters as entities, Markdown
  punctuation escaped, on one line."""
  escaped = _PUNCTUATION.sub(r"\\\1", one_line(value))
  return "".join(_HTML.get(c, c) for c in escaped)


def code(value: object) -> str:
  """A code span holding the value literally (a path, a file name): fenced by more backticks
  than any run inside it. Inside a table cell, use markdown(): a code span keeps its '|'."""
  value = one_line(value)
  longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
  fence = "`" * (longest + 1)
  pad = " " if value.startswith("`") or value.endswith("`") else ""
  return f"{fence}{pad}{value}{pad}{fence}"


def plot(value: object) -> str:
  """A plot label shown as written: Matplotlib's math mode off ('$' escaped)."""
  return str(value).replace("$", r"\$")


# A cell that begins with one of these is a formula to Excel, LibreOffice and Google Sheets.
CSV_FORMULA_STARTS = csv_cells.FORMULA_STARTS


def csv_cell(value: object) -> object:
  """A CSV cell that a spreadsheet shows as text (OWASP's rule for CSV injection): text that
  begins with =, +, -, @, a tab or a carriage return gets a leading '. Other values (the
  numbers a writer computes itself) are returned as they are."""
  if isinstance(value, str) and value.startswith(CSV_FORMULA_STARTS):
    return csv_cells.TEXT_MARK + value
  return value


def csv_row(values) -> list:
  """csv_cell of each value: a row for csv.writer."""
  return [csv_cell(value) for value in values]
