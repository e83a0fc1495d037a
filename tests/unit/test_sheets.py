"""Tables for Excel on a city PC (C-2): formula-like text defused (the rule itself is
test_spreadsheet_cells.py), UTF-8 with BOM or cp932 with what it cannot hold reported, and .xlsx
whose text cells are never formulas."""

import io
from xml.etree import ElementTree

import openpyxl

from kariya.reports import sheets


def test_rows_are_numbered_across_batches():
    out = io.BytesIO()
    table = sheets.CsvStream(out, ["名前"], "cp932")
    for n in range(1, 1200):
        table.row(["𠮷" if n in (1, 500, 501, 1199) else "x"])
    table.close()
    assert [p.row for p in table.problems] == [2, 501, 502, 1200]
    assert out.getvalue().decode("cp932").count("\r\n") == 1200


def test_csv_in_utf8_with_bom_keeps_every_character():
    out = io.BytesIO()
    table = sheets.CsvStream(out, ["名前", "金額"], "utf-8-sig")
    table.row(["𠮷野家", 1200])
    table.row(["=x", None])
    table.close()
    assert out.getvalue() == "\ufeff名前,金額\r\n𠮷野家,1200\r\n'=x,\r\n".encode()
    assert table.problems == [] and table.rows == 2


def test_cp932_replaces_and_reports_what_it_cannot_hold():
    out = io.BytesIO()
    table = sheets.CsvStream(out, ["コード", "名前"], "cp932")
    table.row(["A", "高橋"])
    table.row(["B", "𠮷野家と髙島屋"])
    table.close()
    text = out.getvalue().decode("cp932")
    assert text.splitlines() == ["コード,名前", "A,高橋", "B,〓野家と髙島屋"]
    replaced, kept = table.problems
    assert (replaced.row, replaced.column, replaced.char, replaced.replaced) == (
        3,
        "名前",
        "𠮷",
        True,
    )
    assert (kept.char, kept.replaced) == ("髙", False)
    assert "3行目「名前」" in replaced.text() and "U+20BB7" in replaced.text()


def test_xlsx_stream_opens_in_openpyxl_with_strings_and_numbers():
    out = io.BytesIO()
    table = sheets.XlsxStream(out, ["店舗名", "金額", "メモ"], sheet="店舗")
    table.row(['=HYPERLINK("x")', 1500, " 前後に空白 "])
    table.row(["制御\x07文字", 0, None])
    table.close()
    wb = openpyxl.load_workbook(io.BytesIO(out.getvalue()))
    ws = wb["店舗"]
    rows = [[(c.value, c.data_type) for c in row] for row in ws.iter_rows()]
    assert rows[0][0] == ("店舗名", "s") and ws["A1"].font.b
    assert rows[1][:2] == [('\'=HYPERLINK("x")', "s"), (1500, "n")]
    assert rows[1][2] == (" 前後に空白 ", "s")
    assert rows[2][0] == ("制御〓文字", "s") and table.problems[0].row == 3
    assert ws.freeze_panes == "A2"


def test_xlsx_parts_are_well_formed_xml():
    out = io.BytesIO()
    table = sheets.XlsxStream(out, ["a"])
    table.row(["<b>&amp;"])
    table.close()
    import zipfile

    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as zf:
        for name in zf.namelist():
            ElementTree.fromstring(zf.read(name))
