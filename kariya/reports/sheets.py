"""Writing tables for Excel on a city PC (C-2, D-2), row by row with flat memory: CSV in UTF-8
with a BOM (Excel needs the BOM to read UTF-8; no `sep=` line, which makes it ignore the BOM) or
in cp932, and .xlsx written as its XML parts straight into the ZIP (an order of magnitude faster
than building cells; every text cell an inline string, never a formula).

What a spreadsheet would read as a formula is defused by the one cell rule,
kariya/formats/spreadsheets.py: a text cell starting with = + - @ (also their full-width forms,
and after leading spaces), a tab, CR or LF gets a leading `'`. A
character the file cannot hold (cp932 has no 𠮷; XML has no control characters) is written as
〓 and reported with its row and column, never dropped silently; cp932's machine-dependent
characters (髙, 﨑: its NEC and IBM extensions) are written as they are and reported too.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import zipfile
from collections.abc import Sequence
from xml.sax.saxutils import escape

from kariya.formats.spreadsheets import SUBSTITUTE, XML_ILLEGAL, csv_text

ENCODINGS = ("utf-8-sig", "cp932")
_XML_ILLEGAL = XML_ILLEGAL
_EDGE = frozenset(" \t\n\r\u3000")  # whitespace XML would not keep at a text's ends


def _extended() -> re.Pattern:
    """cp932's machine-dependent characters (NEC-selected and IBM extensions, lead bytes
    0xED, 0xEE, 0xFA-0xFC: 髙, 﨑, ⅰ …): Excel on Windows shows them, other systems may not."""
    found = set()
    for lead in (0xED, 0xEE, 0xFA, 0xFB, 0xFC):
        for trail in range(0x40, 0xFD):
            try:
                ch = bytes([lead, trail]).decode("cp932")
            except UnicodeDecodeError:
                continue
            if ch.encode("cp932")[0] in (0xED, 0xEE, 0xFA, 0xFB, 0xFC):
                found.add(ch)
    return re.compile("[" + re.escape("".join(sorted(found))) + "]")


CP932_EXTENDED = _extended()


@dataclasses.dataclass(frozen=True)
class Problem:
    row: int  # the row in the file, the header being row 1
    column: str
    char: str
    replaced: bool = True  # False: written as it is, but machine-dependent (cp932)

    def text(self) -> str:
        where = f"{self.row}行目「{self.column}」: 「{self.char}」(U+{ord(self.char):04X}) は"
        if self.replaced:
            return where + f"この文字コードで表せないため「{SUBSTITUTE}」にしました"
        return where + "機種依存文字です(そのまま出力。Windows以外では表示されないことがあります)"


class _Table:
    def __init__(self, columns: Sequence[str]):
        self.columns = list(columns)
        self.rows = 0  # data rows written
        self.problems: list[Problem] = []

    _cell = staticmethod(csv_text)  # the one cell rule: text defused, integers as they are


class CsvStream(_Table):
    """CSV into a binary file object, one header row, CRLF line ends (as Excel writes). Rows
    are encoded in batches; a batch cp932 cannot hold is written again row by row, so each
    character it cannot hold is reported with its row and column."""

    BATCH = 500

    def __init__(self, out, columns: Sequence[str], encoding: str = "utf-8-sig"):
        if encoding not in ENCODINGS:
            raise ValueError(f"unknown encoding {encoding!r}")
        super().__init__(columns)
        self._out, self._encoding = out, encoding
        self._codec = "utf-8" if encoding == "utf-8-sig" else "cp932"
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\r\n")
        self._batch: list[list] = []
        if encoding == "utf-8-sig":
            out.write("\ufeff".encode())
        self._write_batch([list(self.columns)], first_row=1)

    def _text(self, rows: list[list]) -> str:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.writerows(rows)
        return self._buffer.getvalue()

    def _write_batch(self, rows: list[list], first_row: int) -> None:
        text = self._text(rows)
        try:
            data = text.encode(self._codec)
        except UnicodeEncodeError:
            data = b"".join(self._row_by_row(rows, first_row))
        else:
            if self._codec == "cp932" and CP932_EXTENDED.search(text):
                for n, cells in enumerate(rows, start=first_row):
                    self._note_extended(cells, n)
        self._out.write(data)

    def _row_by_row(self, rows: list[list], first_row: int):
        for n, cells in enumerate(rows, start=first_row):
            try:
                data = self._text([cells]).encode(self._codec)
            except UnicodeEncodeError:
                cells = [self._substitute(c, i, n) for i, c in enumerate(cells)]
                data = self._text([cells]).encode(self._codec)
            if self._codec == "cp932":
                self._note_extended(cells, n)
            yield data

    def _note_extended(self, cells: list, row: int) -> None:
        for i, cell in enumerate(cells):
            if type(cell) is str and CP932_EXTENDED.search(cell):
                self.problems += [
                    Problem(row, self.columns[i], ch, replaced=False)
                    for ch in CP932_EXTENDED.findall(cell)
                ]

    def _substitute(self, cell, index: int, row: int):
        if not isinstance(cell, str):
            return cell
        out = []
        for ch in cell:
            try:
                ch.encode("cp932")
                out.append(ch)
            except UnicodeEncodeError:
                self.problems.append(Problem(row, self.columns[index], ch))
                out.append(SUBSTITUTE)
        return "".join(out)

    def _flush(self) -> None:
        if self._batch:
            # The header is row 1: the batch's first data row is the one after those written.
            self._write_batch(self._batch, first_row=self.rows - len(self._batch) + 2)
            self._batch = []

    def row(self, values: Sequence) -> None:
        self.rows += 1
        self._batch.append([self._cell(v) for v in values])
        if len(self._batch) >= self.BATCH:
            self._flush()

    def close(self) -> None:
        self._flush()


_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
    "</Relationships>"
)
# Two cell formats: 0 plain, 1 bold (the header row).
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="2"><font><sz val="11"/><name val="Yu Gothic"/></font>'
    '<font><b/><sz val="11"/><name val="Yu Gothic"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


class XlsxStream(_Table):
    """A one-sheet .xlsx into a binary file object (it need not seek), the header row bold and
    frozen. Text is inline strings (t="inlineStr"), numbers are numbers."""

    FLUSH_ROWS = 500

    def __init__(self, out, columns: Sequence[str], sheet: str = "データ"):
        super().__init__(columns)
        # Level 1: a quarter faster than the default, the file about a tenth larger.
        self._zip = zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1)
        self._zip.writestr("[Content_Types].xml", _CONTENT_TYPES)
        self._zip.writestr("_rels/.rels", _ROOT_RELS)
        self._zip.writestr(
            "xl/workbook.xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            f'<sheets><sheet name="{escape(sheet[:31])}" sheetId="1" r:id="rId1"/></sheets>'
            "</workbook>",
        )
        self._zip.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        self._zip.writestr("xl/styles.xml", _STYLES)
        self._sheet = self._zip.open("xl/worksheets/sheet1.xml", "w", force_zip64=True)
        self._sheet.write(
            b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            b'<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" '
            b'activePane="bottomLeft" state="frozen"/></sheetView></sheetViews><sheetData>'
        )
        self._pending: list[str] = []
        self._line = 0
        self._append(self.columns, style=' s="1"')

    def _text(self, value: str, index: int) -> str:
        if _XML_ILLEGAL.search(value):
            for ch in _XML_ILLEGAL.findall(value):
                self.problems.append(Problem(self._line, self.columns[index], ch))
            value = _XML_ILLEGAL.sub(SUBSTITUTE, value)
        space = ' xml:space="preserve"' if value != value.strip() else ""
        return f"<is><t{space}>{escape(value)}</t></is>"

    def _append(self, cells: Sequence, style: str = "") -> None:
        self._line += 1
        parts = [f'<row r="{self._line}">']
        for cell in cells:
            if type(cell) is int:
                parts.append(f"<c{style}><v>{cell}</v></c>")
            elif not cell:
                parts.append("<c/>")
            else:
                if "&" in cell or "<" in cell or ">" in cell:
                    cell = escape(cell)
                space = ' xml:space="preserve"' if cell[0] in _EDGE or cell[-1] in _EDGE else ""
                parts.append(f'<c{style} t="inlineStr"><is><t{space}>{cell}</t></is></c>')
        parts.append("</row>")
        row = "".join(parts)
        if _XML_ILLEGAL.search(row):  # rare: a control character, replaced and reported
            cells_xml = [
                f"<c{style}><v>{c}</v></c>"
                if type(c) is int
                else "<c/>"
                if not c
                else f'<c{style} t="inlineStr">{self._text(c, i)}</c>'
                for i, c in enumerate(cells)
            ]
            row = f'<row r="{self._line}">' + "".join(cells_xml) + "</row>"
        self._pending.append(row)
        if len(self._pending) >= self.FLUSH_ROWS:
            self._flush()

    def _flush(self) -> None:
        self._sheet.write("".join(self._pending).encode())
        self._pending.clear()

    def row(self, values: Sequence) -> None:
        self.rows += 1
        self._append([self._cell(v) for v in values])

    def close(self) -> None:
        self._flush()
        self._sheet.write(b"</sheetData></worksheet>")
        self._sheet.close()
        self._zip.close()


def writer(out, columns: Sequence[str], fmt: str, encoding: str = "utf-8-sig", sheet: str = ""):
    if fmt == "xlsx":
        return XlsxStream(out, columns, sheet or "データ")
    if fmt == "csv":
        return CsvStream(out, columns, encoding)
    raise ValueError(f"unknown format {fmt!r}")
