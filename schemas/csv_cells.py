"""The rule for every CSV cell the project writes, which the manifest reader undoes: text that a
spreadsheet would run as a formula (Excel, LibreOffice and Google Sheets do, for a cell that
begins with one of FORMULA_STARTS) is written with a leading ' (OWASP's rule for CSV
injection), so a to_label.csv (reporting/to_label.py) is read back as a manifest with the
labels it was given."""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_MARK = "'"


def unescape(cell: str) -> str:
  """A cell as it was before it was made safe: a leading ' before a formula start is taken off."""
  if cell.startswith(TEXT_MARK) and cell[1:2] and cell[1] in FORMULA_STARTS:
    return cell[1:]
  return cell
