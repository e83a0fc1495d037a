"""The one rule for spreadsheet cells written from what a person typed (I-10, issue 14): such a
cell is text, whatever it starts with, in .xlsx and in CSV alike.

- .xlsx through openpyxl: `text_cell` (and `append`, a row of them) makes a cell whose type is
  forced to a string ("s", written by openpyxl as an inline string), so a store name or a reason
  starting with "=" is shown as typed and never runs as a formula. Characters XML cannot hold
  (control characters) become 〓 instead of failing the whole file.
- CSV (and the exports of DESIGN §5.3, whose .xlsx follow the same rule): `csv_text` (and
  `defuse`) prefixes a leading `'` when a spreadsheet would read the text as a formula: starting
  with = + - @ (or a character NFKC reads as one of them, such as ＝), also after leading spaces
  or U+3000, or with a tab, CR or LF. A CSV cell has no type, so this is the only defence there.

Every writer of people's data uses these (kariya/payouts/statements.py, kariya/reports/,
kariya/callcenter/reports.py, kariya/materials/sets.py, the store import's error workbook);
tests/unit/test_spreadsheet_cells.py holds the rule, the functional tests read the files back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from openpyxl.cell.cell import Cell

SUBSTITUTE = "〓"  # the conventional mark for a character that cannot be printed
CONTROL_START = frozenset("\t\r\n")
# Every character a spreadsheet may read as = + - @: itself or its NFKC form (＝, ＋, ⁼ …);
# tests/unit/test_spreadsheet_cells.py checks the list against unicodedata.
FORMULA = frozenset("+-=@⁺⁼₊₌⩵⩶﬩﹢﹣﹦﹫＋－＝＠")
_FIRST = FORMULA | CONTROL_START
_SPACES = frozenset(" \u3000")
# What XML 1.0 cannot carry (openpyxl refuses these with IllegalCharacterError).
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
MAX_CELL = 32_767  # the most characters Excel keeps in one cell


def defuse(text: str) -> str:
    """`text` with a leading `'` when a spreadsheet would read it as a formula."""
    if not text:
        return text
    first = text[0]
    if first in _FIRST:
        return "'" + text
    if first in _SPACES:
        rest = text.lstrip(" \u3000")
        if rest and rest[0] in FORMULA:
            return "'" + text
    return text


def csv_text(value) -> str | int:
    """A CSV cell: text defused, integers as they are, None empty, anything else as its text."""
    kind = type(value)
    if kind is str:
        return defuse(value)
    if kind is int:
        return value
    if value is None:
        return ""
    if kind is bool:
        return "true" if value else "false"
    return defuse(str(value))


def csv_row(values: Iterable) -> list:
    return [csv_text(v) for v in values]


def _text(value) -> str:
    return XML_ILLEGAL.sub(SUBSTITUTE, str(value))[:MAX_CELL]


def text_cell(ws, value: str) -> Cell:
    """A string cell of worksheet `ws` (normal or write-only) holding `value` as typed: its type
    is set after the value, so openpyxl's own guess ("=..." is a formula) never stands."""
    cell = Cell(ws, row=1, column=1, value=_text(value))  # ws.append places it
    cell.data_type = "s"
    return cell


def set_text(cell: Cell, value: str) -> Cell:
    """Put `value` into an existing cell (`ws.cell(row, column)`) as a string cell."""
    cell.value = _text(value)
    cell.data_type = "s"
    return cell


def cells(ws, values: Iterable) -> list:
    """A row for `ws.append`: every str a `text_cell`, numbers, dates and None as they are."""
    return [text_cell(ws, v) if isinstance(v, str) else v for v in values]


def append(ws, values: Iterable) -> None:
    """`ws.append(values)` with every text a string cell."""
    ws.append(cells(ws, values))
