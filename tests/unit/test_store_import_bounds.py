"""The store import reads what a workbook holds within a budget, not within a file size (I-10,
S-1; issue 14 defect 6): a 75 KB file of three million empty cells kept a worker for 26 s (an
88 KB one of two million shared strings for 38 s, a 20 KB one of 100,000 cell formats for 5 s);
each is refused in Japanese (422) before openpyxl does the work, and real store lists, also
those formatted far past their table, are read as before."""

import io
import time
import zipfile

import openpyxl
import pytest

from kariya.stores.importer import bounds, workbooks
from kariya.stores.importer.reading import ImportRefused, read
from kariya.stores.importer.report import Report
from tests.benchmarks import import_bounds as files

# Each file took 5-38 s to read before; refused now in well under a second on a quiet machine.
# The limit leaves room for a machine loaded by other test suites.
QUICK = 5.0


def _refused(data: bytes) -> ImportRefused:
    started = time.perf_counter()
    with pytest.raises(ImportRefused) as exc:
        read(data)
    assert time.perf_counter() - started < QUICK
    assert exc.value.status == 422
    return exc.value


@pytest.mark.parametrize("refs", [False, True], ids=["cells", "cells with r"])
def test_three_million_empty_cells_are_refused_at_once(refs):
    # As Excel writes them (each cell with its r) the file is 8 MB: 200,000 of them will do.
    data = files.empty_cells(200, 1000, refs=True) if refs else files.empty_cells(3000, 1000)
    if not refs:
        assert len(data) < 100_000  # what the file weighs says nothing about the work
    refused = _refused(data)
    assert refused.code == "TOO_MANY_CELLS"
    assert "150,000個を超えるセル" in refused.message and "削除" in refused.message


def test_two_million_shared_strings_are_refused_at_once():
    refused = _refused(files.shared_strings(2_000_000))
    assert refused.code == "TOO_MANY_STRINGS" and "100,000種類まで" in refused.message


def test_a_part_openpyxl_parses_whole_is_bounded_by_its_size():
    refused = _refused(files.cell_formats(100_000))
    assert refused.code == "TOO_LARGE" and "xl/styles.xml" in refused.message


def test_one_value_far_from_the_table_is_refused_not_padded():
    """Row 3,000, column ALL: openpyxl would hand over three million cells to reach it."""

    def far(ws):
        ws["ALL3000"] = "メモ"

    wb = openpyxl.Workbook()
    wb.active.append(files.HEADERS)
    wb.active.append(files.STORE)
    far(wb.active)
    out = io.BytesIO()
    wb.save(out)
    refused = _refused(out.getvalue())
    assert refused.code == "TOO_MANY_CELLS" and "3,000行目・1,000列目" in refused.message


def test_a_list_formatted_past_its_table_is_read_and_its_empty_cells_ignored():
    """600 stores with borders drawn to column CV (60,000 cells, most of them empty)."""
    sheet = read(files.stores(600, trailing=100))
    assert len(sheet.rows) == 600
    assert sheet.rows[-1][1]["code"] == "K00600"
    assert len(sheet.columns) == len(files.HEADERS) and sheet.ignored == []


def test_five_thousand_stores_are_still_read():
    sheet = read(files.stores(5000))
    assert len(sheet.rows) == 5000 and sheet.rows[0] == (2, sheet.rows[0][1])


def test_the_survey_reads_the_sheet_openpyxl_reads():
    """The survey finds the first worksheet as openpyxl does (its own parsers), so a file
    cannot show it a small sheet while openpyxl reads another."""
    data = files.stores(3)
    extent = bounds.survey(data)
    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    assert extent.part == wb.worksheets[0]._worksheet_path == "xl/worksheets/sheet1.xml"
    assert (extent.last_row, extent.last_column) == (4, len(files.HEADERS))


def _with_second_sheet(sheet: bytes) -> bytes:
    wb = openpyxl.load_workbook(io.BytesIO(files.stores(3)))
    wb.create_sheet("メモ")
    out = io.BytesIO()
    wb.save(out)
    return files._rebuild(out.getvalue(), {"xl/worksheets/sheet2.xml": sheet})


def _bomb_sheet(dimension: str = "") -> bytes:
    with zipfile.ZipFile(io.BytesIO(files.empty_cells(3000, 1000))) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml")
    return sheet.replace(b"<sheetData>", dimension.encode() + b"<sheetData>", 1)


def test_a_second_sheet_is_read_as_far_as_openpyxl_reads_it_on_opening():
    """openpyxl's read-only mode parses each sheet on opening up to its stated size: all of it
    when it states none. Such a bomb on the second sheet is refused; with a stated size
    (openpyxl then stops there), the first sheet is imported."""
    refused = _refused(_with_second_sheet(_bomb_sheet()))
    assert refused.code == "TOO_MANY_CELLS"
    started = time.perf_counter()
    sheet = read(_with_second_sheet(_bomb_sheet('<dimension ref="A1:ALL3001"/>')))
    assert len(sheet.rows) == 3 and time.perf_counter() - started < QUICK


def test_the_error_workbook_surveys_every_sheet():
    """The error workbook opens the file in openpyxl's normal mode, which parses every cell of
    every sheet: the bomb the import need not read is refused there."""
    data = _with_second_sheet(_bomb_sheet('<dimension ref="A1:ALL3001"/>'))
    started = time.perf_counter()
    with pytest.raises(ImportRefused) as exc:
        workbooks.error_workbook(data, Report(rows=[], ignored=[], notices=[]))
    assert exc.value.code == "TOO_MANY_CELLS" and time.perf_counter() - started < QUICK
