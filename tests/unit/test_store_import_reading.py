"""Reading the store list workbook (S-1) through openpyxl's public API: files whose stated size
is wrong, whose first sheet is not the first part in the archive, whose rows have gaps; merged
cells found on the sheet that is imported and only there."""

import io
import re
import zipfile

import openpyxl
import pytest

from kariya.stores.importer.columns import HEADERS
from kariya.stores.importer.reading import ImportRefused, read

ROW = ["K0001", "かりや商店", "カリヤショウテン", "小売", "刈谷地区", "刈谷市東陽町1-1"]


def _save(wb) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _workbook(*rows, prepare=None) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADERS[:6])
    for r in rows:
        ws.append(r)
    if prepare:
        prepare(wb)
    return _save(wb)


def _rewrite_sheet(data: bytes, change) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            body = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = change(body)
            target.writestr(info, body)
    return out.getvalue()


def _stated_size(ref: bytes):
    return lambda body: re.sub(
        rb'<dimension ref="[^"]*"/>', b'<dimension ref="' + ref + b'"/>', body
    )


def test_every_row_is_read_when_the_stated_size_is_too_small():
    data = _rewrite_sheet(
        _workbook(ROW, ["K0002", *ROW[1:]], ["K0003", *ROW[1:]]), _stated_size(b"A1:B2")
    )
    sheet = read(data)
    assert [(n, v["code"]) for n, v in sheet.rows] == [(2, "K0001"), (3, "K0002"), (4, "K0003")]
    assert sheet.rows[2][1]["address"] == "刈谷市東陽町1-1"


def test_rows_keep_their_excel_numbers_across_gaps():
    def gap(wb):
        wb.active["A9"] = "K0009"
        wb.active["B9"] = "九号店"

    sheet = read(_workbook(ROW, prepare=gap))
    assert [(n, v["code"], v["name"]) for n, v in sheet.rows] == [
        (2, "K0001", "かりや商店"),
        (9, "K0009", "九号店"),
    ]


def test_merged_cells_are_found_when_the_stated_size_hides_them():
    def merge(wb):
        wb.active.merge_cells("D2:D3")

    data = _rewrite_sheet(_workbook(ROW, ROW, prepare=merge), _stated_size(b"A1:A1"))
    with pytest.raises(ImportRefused) as exc:
        read(data)
    assert exc.value.code == "MERGED_CELLS" and "D2:D3" in exc.value.message


def test_merged_cells_of_the_first_sheet_only_count_wherever_its_part_is():
    """The first sheet's part is found through the workbook's relationships, not by its name in
    the archive: here it is sheet2.xml, and only its merged cells count."""

    def first_is_second(wb):
        other = wb.create_sheet("一覧")
        other.append(HEADERS[:6])
        other.append(ROW)
        other.merge_cells("A1:B1")
        wb.active.merge_cells("A5:C6")  # on the sheet that is not imported
        wb.move_sheet("一覧", -1)

    data = _workbook(ROW, prepare=first_is_second)
    assert "xl/worksheets/sheet2.xml" in zipfile.ZipFile(io.BytesIO(data)).namelist()
    with pytest.raises(ImportRefused) as exc:
        read(data)
    assert exc.value.code == "MERGED_CELLS"
    assert "1行目の見出しに結合されたセルがあります(A1:B1)" in exc.value.message


def test_a_sheet_without_merged_cells_elsewhere_is_read():
    def other_sheet_merged(wb):
        wb.create_sheet("メモ").merge_cells("A1:B2")

    sheet = read(_workbook(ROW, prepare=other_sheet_merged))
    assert [v["code"] for _, v in sheet.rows] == ["K0001"]


def test_an_xml_entity_bomb_is_refused_as_not_excel():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    )
    data = _rewrite_sheet(
        _workbook(ROW),
        lambda body: bomb + body.replace(b"<v>", b"<v>&b;", 1),
    )
    with pytest.raises(ImportRefused) as exc:
        read(data)
    assert exc.value.code == "NOT_XLSX"
