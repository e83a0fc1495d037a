"""Reading the workbook: refuse what must not be opened at all (size, encryption, not Excel, ZIP
bombs, more cells than the import may read: `bounds`), read the first sheet, refuse formulas,
merged cells, too many rows and unusable headings, and map the headings to the columns."""

from __future__ import annotations

import dataclasses
import io
import re

import openpyxl
from openpyxl.utils import get_column_letter

from kariya.stores import normalize
from kariya.stores.importer import bounds
from kariya.stores.importer.bounds import (  # noqa: F401  (the import's public names)
    MAX_BYTES,
    NOT_XLSX_MESSAGE,
    ImportRefused,
    check_file,
)
from kariya.stores.importer.columns import _HEADER_KEYS, BY_KEY, COLUMNS

MAX_ROWS = 5000  # stores in one file (about 600 are expected, P-7)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclasses.dataclass
class Sheet:
    columns: dict[str, int]  # key -> 1-based column number
    headers: dict[str, str]  # key -> the heading as written in the file
    ignored: list[str]  # headings not imported
    rows: list[tuple[int, dict[str, object]]]  # (row number in Excel, key -> cell value)


_refuse = bounds.refuse


def _cells(data: bytes, extent: bounds.Extent):
    """Yield (row number, {column number: (value, data_type)}) of the first sheet, streaming
    (openpyxl's read-only mode), only within the rectangle of `extent` that holds values (the
    survey has counted the cells already). Formulas come back as "=..." because the workbook
    is read with data_only=False."""
    if not extent.last_row:
        return
    try:
        wb = openpyxl.load_workbook(
            io.BytesIO(data), read_only=True, data_only=False, keep_links=False
        )
    except Exception:  # openpyxl raises many kinds on a damaged or foreign file
        raise _refuse("NOT_XLSX", NOT_XLSX_MESSAGE) from None
    try:
        if not wb.worksheets or wb.worksheets[0]._worksheet_path != extent.part:
            raise _refuse("NOT_XLSX", NOT_XLSX_MESSAGE)  # not the sheet the survey read
        rows = wb.worksheets[0].iter_rows(
            min_row=1, max_row=extent.last_row, min_col=1, max_col=extent.last_column
        )
        for number, row in enumerate(rows, start=1):
            cells = {
                column: (cell.value, cell.data_type)
                for column, cell in enumerate(row, start=1)
                if cell.value is not None
            }
            if cells:
                yield number, cells
    except ImportRefused:
        raise
    except Exception:
        raise _refuse("NOT_XLSX", NOT_XLSX_MESSAGE) from None
    finally:
        wb.close()


def _starts_a_formula(value) -> bool:
    """Text that starts with "=" once normalised as the import stores it (NFKC, white space
    trimmed): "＝HYPERLINK(…)", " =cmd|…", "\u3000=1+1" as much as "=1+1"."""
    return isinstance(value, str) and normalize.nfkc(value).startswith("=")


def _is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def read(data: bytes) -> Sheet:
    """The first sheet's headings and rows; ImportRefused for a file that must not be used."""
    extent = bounds.survey(data)
    bounds.check_extent(extent)
    header: dict[int, object] = {}
    rows: list[tuple[int, dict[int, object]]] = []
    formulas: list[str] = []
    merged = extent.merged
    stream = _cells(data, extent)
    try:
        for number, cells in stream:
            values = {}
            for column, (value, data_type) in cells.items():
                if data_type == "f" or _starts_a_formula(value):
                    formulas.append(f"{get_column_letter(column)}{number}")
                values[column] = value
            if number == 1:
                header = values
                continue
            if all(_is_blank(v) for v in values.values()):
                continue
            rows.append((number, values))
            if len(rows) > MAX_ROWS:
                raise _refuse(
                    "TOO_MANY_ROWS",
                    f"行が多すぎます({MAX_ROWS:,}行を超えています)。{MAX_ROWS:,}行までに分けて取り込んでください。",
                )
    finally:
        stream.close()
    if formulas:
        shown = "、".join(formulas[:5]) + (
            f" ほか{len(formulas) - 5}か所" if len(formulas) > 5 else ""
        )
        raise _refuse(
            "FORMULA",
            f"数式が入力されたセルがあります({shown})。数式を使わず、値として貼り付けてから取り込んでください"
            "(「=」「＝」で始まる値も数式として扱われるため、先頭の「=」を取り除いてください)。",
        )
    if merged:
        in_header = [r for r in merged if _first_row(r) == 1]
        if in_header:
            raise _refuse(
                "MERGED_CELLS",
                f"1行目の見出しに結合されたセルがあります({'、'.join(in_header[:5])})。"
                "セルの結合を解除し、1つのセルに1つの見出しを入力してください。",
            )
        raise _refuse(
            "MERGED_CELLS",
            f"結合されたセルがあります({'、'.join(merged[:5])})。結合を解除し、各行に値を入力してください。",
        )
    return _map_columns(header, rows)


def _first_row(ref: str) -> int:
    match = re.match(r"^\$?[A-Z]+\$?(\d+)", ref)
    return int(match.group(1)) if match else 0


def _map_columns(header: dict[int, object], raw_rows) -> Sheet:
    if all(_is_blank(v) for v in header.values()):
        raise _refuse(
            "BAD_HEADER",
            "1行目に見出しがありません。1行目に「店舗コード」「店舗名」などの見出しを入れてください"
            "(テンプレートをご利用ください)。",
        )
    columns: dict[str, int] = {}
    headers: dict[str, str] = {}
    ignored: list[str] = []
    for number in sorted(header):
        written = normalize.cell_text(header[number]).strip()
        if not written:
            continue
        key = _HEADER_KEYS.get(normalize.header(written))
        if key is None:
            ignored.append(written)
            continue
        if key in columns:
            raise _refuse(
                "BAD_HEADER",
                f"見出し「{headers[key]}」と「{written}」は同じ項目({BY_KEY[key].header})です。"
                "どちらか一方の列にしてください。",
            )
        columns[key], headers[key] = number, written
    missing = [c.header for c in COLUMNS if c.required and c.key not in columns]
    if missing:
        raise _refuse(
            "BAD_HEADER",
            f"必須の列がありません: {'、'.join(missing)}。1行目の見出しを確かめてください"
            "(テンプレートをご利用ください)。",
        )
    rows = [
        (number, {key: values.get(column) for key, column in columns.items()})
        for number, values in raw_rows
    ]
    rows = [(n, v) for n, v in rows if not all(_is_blank(x) for x in v.values())]
    if not rows:
        raise _refuse(
            "EMPTY", "取り込む店舗の行がありません(2行目から1店舗1行で入力してください)。"
        )
    return Sheet(columns=columns, headers=headers, ignored=ignored, rows=rows)
