"""Reading the workbook: refuse what must not be opened at all (size, encryption, not Excel, ZIP
bombs), read the first sheet, refuse formulas, merged cells, too many rows and unusable headings,
and map the headings to the columns."""

from __future__ import annotations

import dataclasses
import io
import posixpath
import re
import zipfile
from xml.sax.handler import ContentHandler

import openpyxl
from defusedxml import ElementTree, sax
from openpyxl.utils import get_column_letter

from kariya.errors import Invalid
from kariya.stores import normalize
from kariya.stores.importer.columns import _HEADER_KEYS, BY_KEY, COLUMNS

MAX_BYTES = 10 * 1024 * 1024  # the upload, as sent
MAX_UNZIPPED = 200 * 1024 * 1024  # what the .xlsx (a ZIP) may expand to: no ZIP bombs
MAX_ROWS = 5000  # stores in one file (about 600 are expected, P-7)
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # encrypted .xlsx and old .xls files
ZIP_MAGIC = b"PK\x03\x04"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ImportRefused(Invalid):
    """The file as a whole cannot be read; nothing was written."""

    code = "IMPORT_REFUSED"


@dataclasses.dataclass
class Sheet:
    columns: dict[str, int]  # key -> 1-based column number
    headers: dict[str, str]  # key -> the heading as written in the file
    ignored: list[str]  # headings not imported
    rows: list[tuple[int, dict[str, object]]]  # (row number in Excel, key -> cell value)


def _refuse(code: str, message: str) -> ImportRefused:
    return ImportRefused(message, code=code)


def _cells(data: bytes):
    """Yield (row number, {column number: (value, data_type)}) of the first sheet, streaming
    (openpyxl's read-only mode), and finally (None, merged ranges). Formulas come back as "=..."
    because the workbook is read with data_only=False."""
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception:  # openpyxl raises many kinds on a damaged or foreign file
        raise _refuse("NOT_XLSX", NOT_XLSX_MESSAGE) from None
    try:
        if not wb.worksheets:
            raise _refuse("NOT_XLSX", "ワークシートがありません。")
        ws = wb.worksheets[0]
        ws.reset_dimensions()  # the size a file states may be wrong: read every row it has
        for number, row in enumerate(ws.iter_rows(), start=1):
            cells = {
                column: (cell.value, cell.data_type)
                for column, cell in enumerate(row, start=1)
                if cell.value is not None
            }
            if cells:
                yield number, cells
        yield None, _merged_ranges(data, ws.title)
    except ImportRefused:
        raise
    except Exception:
        raise _refuse("NOT_XLSX", NOT_XLSX_MESSAGE) from None
    finally:
        wb.close()


def _local(name: str) -> str:
    """An XML tag or attribute name without its namespace."""
    return name.rpartition("}")[2]


def _sheet_part(archive: zipfile.ZipFile, title: str) -> str:
    """The ZIP member holding the worksheet named `title`: the workbook names its sheets and
    points at their parts through its relationships (ECMA-376 Part 1, 18.2.19 and Part 2)."""
    workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    rel_id = next(
        value
        for sheet in workbook.iter()
        if _local(sheet.tag) == "sheet" and sheet.get("name") == title
        for key, value in sheet.attrib.items()
        if _local(key) == "id"
    )
    rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    target = next(r.get("Target", "") for r in rels if r.get("Id") == rel_id)
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join("xl", target))


class _MergedCells(ContentHandler):
    """Collects the ref of every mergeCell element ("A1:B1")."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def startElement(self, name, attrs) -> None:  # the SAX interface names it so
        if name.rpartition(":")[2] == "mergeCell":
            self.refs.append(attrs.get("ref", ""))


def _merged_ranges(data: bytes, title: str) -> list[str]:
    """The merged ranges of the worksheet `title`, which openpyxl's read-only mode does not
    expose: they follow the rows in the sheet's part, which is streamed once more through
    defusedxml's SAX parser (no XML bombs, nothing kept but the ranges)."""
    handler = _MergedCells()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as archive,
        archive.open(_sheet_part(archive, title)) as source,
    ):
        sax.parse(source, handler)
    return handler.refs


NOT_XLSX_MESSAGE = (
    "Excelファイル(.xlsx)として読み込めませんでした。CSVなどの場合は、Excelで開いて"
    "「Excel ブック(*.xlsx)」形式で保存し直してから取り込んでください。"
)


def check_file(data: bytes) -> None:
    """Refuse what must not be opened at all: too large, encrypted or old .xls, not a ZIP."""
    if len(data) > MAX_BYTES:
        raise _refuse(
            "TOO_LARGE",
            f"ファイルが大きすぎます({len(data) / 1048576:.1f}MB)。{MAX_BYTES // 1048576}MBまでのファイルにしてください。",
        )
    if not data:
        raise _refuse("NOT_XLSX", "ファイルが空です。")
    if data.startswith(OLE2_MAGIC[:4]):
        raise _refuse(
            "ENCRYPTED",
            "パスワードで保護された(暗号化された)ファイル、または古い形式(.xls)のファイルは取り込めません。"
            "Excelでパスワードを解除し、「Excel ブック(*.xlsx)」形式で保存し直してから取り込んでください。",
        )
    if not data.startswith(ZIP_MAGIC):
        raise _refuse("NOT_XLSX", NOT_XLSX_MESSAGE)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            unzipped = sum(i.file_size for i in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError):
        raise _refuse("NOT_XLSX", NOT_XLSX_MESSAGE) from None
    if "xl/workbook.xml" not in names:
        raise _refuse("NOT_XLSX", NOT_XLSX_MESSAGE)
    if unzipped > MAX_UNZIPPED:
        raise _refuse("TOO_LARGE", "ファイルの中身が大きすぎるため取り込めません。")


def _is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def read(data: bytes) -> Sheet:
    """The first sheet's headings and rows; ImportRefused for a file that must not be used."""
    check_file(data)
    header: dict[int, object] = {}
    rows: list[tuple[int, dict[int, object]]] = []
    formulas: list[str] = []
    merged: list[str] = []
    stream = _cells(data)
    try:
        for number, cells in stream:
            if number is None:
                merged = cells
                break
            values = {}
            for column, (value, data_type) in cells.items():
                if data_type == "f" or (isinstance(value, str) and value.startswith("=")):
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
            f"数式が入力されたセルがあります({shown})。数式を使わず、値として貼り付けてから取り込んでください。",
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
