"""Benchmark: how long the store import takes to read (or refuse) small workbooks that hold a
great deal (I-10; issue 14 defect 6). Not part of the test run.

    .venv/bin/python -m tests.benchmarks.import_bounds

Builds, in memory, the files below and times `kariya.stores.importer.reading.read` on each;
prints one JSON line per file (its size, the seconds, what the import answered). The builders
are shared with tests/unit/test_store_import_bounds.py. To time another checkout's code (say
main's, before the bounds), run it with that checkout first on PYTHONPATH.
"""

from __future__ import annotations

import io
import json
import re
import sys
import time
import zipfile

import openpyxl

from kariya.stores.importer.columns import HEADERS

STORE = ["K0001", "かりや商店", "カリヤショウテン", "小売", "刈谷地区", "刈谷市東陽町1-1"]


def _base() -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADERS)
    ws.append(STORE)
    ws["A3"].font = openpyxl.styles.Font(bold=True)  # a second cell format, s="1"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _rebuild(data: bytes, parts: dict[str, bytes]) -> bytes:
    """`data` with some parts replaced or added, compressed as hard as ZIP goes."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target,
    ):
        for info in source.infolist():
            target.writestr(info.filename, parts.pop(info.filename, source.read(info.filename)))
        for name, body in parts.items():
            target.writestr(name, body)
    return out.getvalue()


def _sheet(rows: str) -> bytes:
    head = "".join(f'<c t="inlineStr"><is><t>{h}</t></is></c>' for h in HEADERS)
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f'<sheetData><row r="1">{head}</row>{rows}</sheetData></worksheet>'
    ).encode()


def empty_cells(rows: int = 3000, columns: int = 1000, refs: bool = False) -> bytes:
    """The issue's file: under the header, `rows` rows of `columns` empty formatted cells each
    (three million by default; about 75 KB). With `refs`, every cell names its place
    (`r="ALL2"`), as Excel writes them."""
    from openpyxl.utils import get_column_letter

    if refs:
        letters = [get_column_letter(c) for c in range(1, columns + 1)]
        body = "".join(
            f'<row r="{r}">' + "".join(f'<c r="{x}{r}" s="1"/>' for x in letters) + "</row>"
            for r in range(2, rows + 2)
        )
    else:
        cells = '<c s="1"/>' * columns
        body = "".join(f'<row r="{r}">{cells}</row>' for r in range(2, rows + 2))
    return _rebuild(_base(), {"xl/worksheets/sheet1.xml": _sheet(body)})


def shared_strings(count: int = 2_000_000) -> bytes:
    """A workbook whose shared-string table holds `count` one-letter strings (about 90 KB)."""
    data = _base()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        types = archive.read("[Content_Types].xml")
    override = (
        b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    )
    table = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        + "<si><t>a</t></si>" * count
        + "</sst>"
    )
    return _rebuild(
        data,
        {
            "[Content_Types].xml": types.replace(b"</Types>", override + b"</Types>"),
            "xl/sharedStrings.xml": table.encode(),
        },
    )


def cell_formats(count: int = 100_000) -> bytes:
    """A workbook whose styles list `count` cell formats (about 20 KB)."""
    data = _base()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        styles = archive.read("xl/styles.xml")
    xf = b'<xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
    styles = re.sub(rb'<cellXfs count="\d+">', b'<cellXfs count="%d">' % count + xf * count, styles)
    return _rebuild(data, {"xl/styles.xml": styles})


def stores(rows: int = 5000, trailing: int = 0) -> bytes:
    """A plain store list of `rows` stores; with `trailing`, each row also has formatted empty
    cells up to that column (borders drawn past the table)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADERS)
    bold = openpyxl.styles.Font(bold=True)
    for n in range(1, rows + 1):
        ws.append([f"K{n:05d}", f"店{n}", *STORE[2:]])
        if trailing:
            for column in range(len(HEADERS) + 1, trailing + 1):
                ws.cell(n + 1, column).font = bold
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


FILES = {
    "3,000 rows x 1,000 empty cells": empty_cells,
    "the same, every cell with its r": lambda: empty_cells(refs=True),
    "2,000,000 shared strings": shared_strings,
    "100,000 cell formats": cell_formats,
    "5,000 stores": stores,
    "600 stores, formatted to column CV": lambda: stores(600, trailing=100),
}


def main() -> int:
    from kariya.stores.importer import reading

    for name, build in FILES.items():
        data = build()
        started = time.perf_counter()
        try:
            answer = f"{len(reading.read(data).rows)} rows"
        except reading.ImportRefused as exc:
            answer = exc.code
        seconds = time.perf_counter() - started
        print(
            json.dumps(
                {"file": name, "bytes": len(data), "seconds": round(seconds, 2), "answer": answer},
                ensure_ascii=False,
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
