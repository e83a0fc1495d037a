"""What the import may open, bounded by what is inside the file rather than by its size (I-10,
issue 14 defect 6: a 21 KB workbook of 3,000 rows x 1,000 empty styled cells kept a worker busy
for 30 s, an 88 KB one of two million one-letter shared strings for 38 s).

A .xlsx is a ZIP of XML parts that compress a thousandfold, and openpyxl spends microseconds on
every element it parses, so the file's size says little about the work. Before openpyxl opens
anything, `survey` reads the parts it would parse, in the same way it finds them (its own
manifest and workbook parsers, which read only the small parts checked first):

- every part openpyxl parses whole when it opens a workbook (styles, the workbook, its
  relationships, properties, ...; in fact every part but the worksheets and the shared strings)
  may expand to at most `MAX_PART_BYTES`: a check of the ZIP directory, no parsing;
- the shared strings are counted as they stream past (SAX), at most `MAX_STRINGS`;
- the first worksheet is streamed once (SAX): its cells (`<c>`, empty or not) and rows are
  counted as they go, and the reading stops at `MAX_CELLS` (or `MAX_ELEMENTS` XML elements of
  any kind) before openpyxl or the import does any per-cell work. The same pass notes the last
  row and column holding a value (openpyxl then hands over only that rectangle, so trailing
  empty, merely formatted cells cost its parsing, counted, and no work of ours) and the merged
  ranges (which openpyxl's read-only mode does not expose);
- the other worksheets are streamed as far as openpyxl's read-only mode parses them on opening
  (to their `<dimension>`: all of a sheet that states none), within the first sheet's budget
  of `MAX_ELEMENTS`.

The error workbook opens the upload in openpyxl's normal mode, which parses every cell of every
sheet: `survey(every_sheet=True)` gives all the sheets one budget of cells first.

Measured (README, "Stores and printed materials"; `python -m tests.benchmarks.import_bounds`):
the 3,000 x 1,000 file took 26 s to read before (141 s on a loaded machine) and is refused after
0.3-0.6 s; 5,000 stores are read in the same time as before.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import zipfile
from xml.sax.handler import ContentHandler

from defusedxml import sax
from openpyxl.packaging.manifest import Manifest
from openpyxl.packaging.relationship import get_rels_path
from openpyxl.reader.excel import _find_workbook_part  # openpyxl's own rule, kept in step
from openpyxl.reader.workbook import WorkbookParser
from openpyxl.utils import column_index_from_string
from openpyxl.xml.constants import (
    ARC_CONTENT_TYPES,
    ARC_CORE,
    ARC_CUSTOM,
    ARC_STYLE,
    SHARED_STRINGS,
)
from openpyxl.xml.functions import fromstring

from kariya.errors import Invalid

MAX_BYTES = 10 * 1024 * 1024  # the upload, as sent
MAX_UNZIPPED = 200 * 1024 * 1024  # what the .xlsx (a ZIP) may expand to: no ZIP bombs
MAX_PART_BYTES = 2 * 1024 * 1024  # one part openpyxl parses whole (a store list's are ~10 KB)
MAX_STRINGS = 100_000  # distinct texts (5,000 stores x 14 columns is 70,000 at most)
MAX_CELLS = 150_000  # cells of the first sheet, empty ones too (5,000 rows x 30 columns)
MAX_ELEMENTS = 4 * MAX_CELLS  # XML elements of the first sheet (a cell with a value is 2-3)
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # encrypted .xlsx and old .xls files
ZIP_MAGIC = b"PK\x03\x04"
_WORKSHEET = "/worksheet"  # the end of a worksheet relationship's type

NOT_XLSX_MESSAGE = (
    "Excelファイル(.xlsx)として読み込めませんでした。CSVなどの場合は、Excelで開いて"
    "「Excel ブック(*.xlsx)」形式で保存し直してから取り込んでください。"
)
TOO_MANY_CELLS_MESSAGE = (
    f"セルが多すぎるため取り込めません(1枚目のシートに、書式だけが設定された空のセルも含めて"
    f"{MAX_CELLS:,}個を超えるセルがあります)。店舗の表の外にある行や列を選んで「削除」するか、"
    "新しいブックに表だけを「値として貼り付け」てから取り込んでください。"
)

TOO_MANY_STRINGS_MESSAGE = (
    f"ファイルに含まれる文字列が多すぎるため取り込めません({MAX_STRINGS:,}種類まで)。"
    "店舗の表だけを新しいブックに「値として貼り付け」てから取り込んでください。"
)


class ImportRefused(Invalid):
    """The file as a whole cannot be read; nothing was written."""

    code = "IMPORT_REFUSED"


def refuse(code: str, message: str) -> ImportRefused:
    return ImportRefused(message, code=code)


def check_file(data: bytes) -> None:
    """Refuse what must not be opened at all: too large, encrypted or old .xls, not a ZIP."""
    if len(data) > MAX_BYTES:
        raise refuse(
            "TOO_LARGE",
            f"ファイルが大きすぎます({len(data) / 1048576:.1f}MB)。{MAX_BYTES // 1048576}MBまでのファイルにしてください。",
        )
    if not data:
        raise refuse("NOT_XLSX", "ファイルが空です。")
    if data.startswith(OLE2_MAGIC[:4]):
        raise refuse(
            "ENCRYPTED",
            "パスワードで保護された(暗号化された)ファイル、または古い形式(.xls)のファイルは取り込めません。"
            "Excelでパスワードを解除し、「Excel ブック(*.xlsx)」形式で保存し直してから取り込んでください。",
        )
    if not data.startswith(ZIP_MAGIC):
        raise refuse("NOT_XLSX", NOT_XLSX_MESSAGE)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            unzipped = sum(i.file_size for i in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError):
        raise refuse("NOT_XLSX", NOT_XLSX_MESSAGE) from None
    if ARC_CONTENT_TYPES not in names:
        raise refuse("NOT_XLSX", NOT_XLSX_MESSAGE)
    if unzipped > MAX_UNZIPPED:
        raise refuse("TOO_LARGE", "ファイルの中身が大きすぎるため取り込めません。")


@dataclasses.dataclass(frozen=True)
class Extent:
    """What the survey found in the worksheet(s) it read."""

    part: str  # the first worksheet's part in the ZIP (the one openpyxl reads)
    last_row: int  # the last row holding a value (0: none)
    last_column: int  # the last column holding a value
    merged: list[str]  # the merged ranges ("A1:B1")
    cells: int  # the cells read


class _Stop(Exception):
    """The budget is spent: stop the parser at once."""


@functools.lru_cache(maxsize=4096)
def _column(ref: str) -> int:
    return column_index_from_string(ref.rstrip("0123456789$").lstrip("$"))


class _SheetScan(ContentHandler):
    """Counts a worksheet's cells and elements as they stream past; notes where values are and
    the merged ranges. `cells` and `elements` carry on from a previous sheet's (the error
    workbook opens every sheet)."""

    def __init__(self, cells: int = 0, elements: int = 0) -> None:
        super().__init__()
        self.cells, self.elements = cells, elements
        self.row = 0
        # The cell's column, as openpyxl counts it: its `r`, or one after the previous cell's.
        # Worked out only for a cell with a value (most cells of a bomb have none).
        self.ref: str | None = None  # the last `r` seen in this row
        self.after = 0  # cells since that one
        self.last_row = self.last_column = 0
        self.merged: list[str] = []

    def startElement(self, name, attrs) -> None:  # the SAX interface names it so
        self.elements += 1
        if self.elements > MAX_ELEMENTS:
            raise _Stop
        tag = name.rpartition(":")[2]
        if tag == "c":
            self.cells += 1
            if self.cells > MAX_CELLS:
                raise _Stop
            ref = attrs.get("r")
            if ref:
                self.ref, self.after = ref, 0
            else:
                self.after += 1
        elif tag == "v" or tag == "is" or tag == "f":
            column = (_column(self.ref) if self.ref else 0) + self.after
            if self.row > self.last_row:
                self.last_row = self.row
            if column > self.last_column:
                self.last_column = column
        elif tag == "row":
            ref = attrs.get("r")
            self.row = int(ref) if ref else self.row + 1
            self.ref, self.after = None, 0
        elif tag == "mergeCell":
            self.merged.append(attrs.get("ref", ""))


class _Done(Exception):
    """The scan has seen what it needed."""


class _Lead(ContentHandler):
    """What openpyxl's read-only mode parses of every worksheet on opening (to learn its size):
    the elements up to its `<dimension>`, or, when it has none, up to the end of its
    `<sheetData>`, i.e. all its rows. `elements` carries on from sheet to sheet."""

    def __init__(self, elements: int = 0) -> None:
        super().__init__()
        self.elements = elements

    def startElement(self, name, attrs) -> None:
        self.elements += 1
        if self.elements > MAX_ELEMENTS:
            raise _Stop
        if name.rpartition(":")[2] == "dimension":
            raise _Done

    def endElement(self, name) -> None:
        if name.rpartition(":")[2] == "sheetData":
            raise _Done


class _Strings(ContentHandler):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def startElement(self, name, attrs) -> None:
        if name.rpartition(":")[2] == "si":
            self.count += 1
            if self.count > MAX_STRINGS:
                raise _Stop


def _read_small(archive: zipfile.ZipFile, name: str) -> bytes:
    if archive.getinfo(name).file_size > MAX_PART_BYTES:
        raise _too_large(name)
    return archive.read(name)


def _too_large(name: str) -> ImportRefused:
    return refuse(
        "TOO_LARGE",
        f"ファイルの一部({name})が大きすぎるため取り込めません"
        f"({MAX_PART_BYTES // 1048576}MBまで)。画像や他のシートを削除し、"
        "店舗の表だけのブックにしてから取り込んでください。",
    )


def _scan(archive: zipfile.ZipFile, part: str, handler: ContentHandler, code: str) -> None:
    try:
        with archive.open(part) as source:
            sax.parse(source, handler)
    except _Done:
        pass
    except _Stop:
        message = TOO_MANY_STRINGS_MESSAGE if code == "TOO_MANY_STRINGS" else TOO_MANY_CELLS_MESSAGE
        raise refuse(code, message) from None


def survey(data: bytes, *, every_sheet: bool = False) -> Extent:
    """Check the parts openpyxl would parse (see the module's text) and read the first
    worksheet's extent; with `every_sheet`, every worksheet is read (the cells of all of them
    within one budget), as opening the file in openpyxl's normal mode parses them all.
    ImportRefused when the file is too much to read, or is not a workbook."""
    check_file(data)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return _survey(archive, every_sheet)
    except ImportRefused:
        raise
    except Exception:  # a damaged or foreign file fails in many ways
        raise refuse("NOT_XLSX", NOT_XLSX_MESSAGE) from None


def _survey(archive: zipfile.ZipFile, every_sheet: bool) -> Extent:
    manifest = Manifest.from_tree(fromstring(_read_small(archive, ARC_CONTENT_TYPES)))
    workbook = _find_workbook_part(manifest).PartName[1:]
    # The parts openpyxl reads whole on opening, whatever else they are named as.
    opened = {ARC_CONTENT_TYPES, workbook, get_rels_path(workbook), ARC_STYLE, ARC_CORE, ARC_CUSTOM}
    _read_small(archive, workbook)
    _read_small(archive, get_rels_path(workbook))
    parser = WorkbookParser(archive, workbook, keep_links=False)
    parser.parse()
    names = set(archive.namelist())
    sheets = [
        rel.target
        for _sheet, rel in parser.find_sheets()
        if rel.target in names and rel.Type.endswith(_WORKSHEET)
    ]
    if not sheets:
        raise refuse("NOT_XLSX", "ワークシートがありません。")
    found = manifest.find(SHARED_STRINGS)
    strings = found.PartName[1:] if found is not None else None
    for info in archive.infolist():
        name = info.filename
        if name not in opened and (name == strings or name in sheets):
            continue  # counted as they are read below (the other worksheets: never opened)
        if info.file_size > MAX_PART_BYTES:
            raise _too_large(name)
    if strings is not None and strings in names:
        _scan(archive, strings, _Strings(), "TOO_MANY_STRINGS")
    scan = _SheetScan()
    _scan(archive, sheets[0], scan, "TOO_MANY_CELLS")
    first = Extent(sheets[0], scan.last_row, scan.last_column, scan.merged, scan.cells)
    if every_sheet:  # openpyxl's normal mode parses every cell of every sheet
        for part in sheets[1:]:
            scan = _SheetScan(scan.cells, scan.elements)
            _scan(archive, part, scan, "TOO_MANY_CELLS")
    else:  # its read-only mode parses the start of each, or all of one without a dimension
        lead = _Lead(scan.elements)  # one budget of elements with the first sheet's
        for part in sheets[1:]:
            _scan(archive, part, lead, "TOO_MANY_CELLS")
    return first


def check_extent(extent: Extent) -> None:
    """The rectangle openpyxl will hand over (every row up to the last value, every column up
    to the last value) must be within the budget too: one value far away would make it large."""
    if extent.last_row * extent.last_column > MAX_CELLS:
        raise refuse(
            "TOO_MANY_CELLS",
            f"値の入ったセルの範囲が広すぎるため取り込めません({extent.last_row:,}行目・"
            f"{extent.last_column:,}列目まで)。店舗の表の外に入力された値を削除してから"
            "取り込んでください。",
        )
