"""The workbooks the import sends back: the uploaded file with its errors, the template."""

from __future__ import annotations

import io

import openpyxl
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy.orm import Session

from kariya.formats import spreadsheets
from kariya.residents.options import AREAS
from kariya.stores.importer import bounds
from kariya.stores.importer.columns import CATEGORIES, COLUMNS, FIELDS, HEADERS, TEXT_FORMAT_COLUMNS
from kariya.stores.importer.planning import preview
from kariya.stores.importer.reading import MAX_ROWS
from kariya.stores.importer.report import CellError, Report

ERROR_HEADER = "エラー"
# --- workbooks: the errors, the template --------------------------------------------------------

ERROR_FILL = PatternFill("solid", fgColor="FFC7CE")
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")


def _save(wb) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def error_workbook(data: bytes, report: Report) -> bytes:
    """The uploaded workbook with an error column added (and the wrong cells coloured), to send
    back to whoever fixes the list. openpyxl's normal mode parses every sheet of the file, so
    all of them are surveyed first (one budget of cells: `bounds`)."""
    bounds.survey(data, every_sheet=True)
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb.worksheets[0]
    by_row: dict[int, list[CellError]] = {}
    for error in report.errors:
        by_row.setdefault(error.row, []).append(error)
    column = ws.max_column + 1
    header = spreadsheets.set_text(ws.cell(row=1, column=column), ERROR_HEADER)
    header.font = Font(bold=True, color="9C0006")
    header.fill = ERROR_FILL
    ws.column_dimensions[get_column_letter(column)].width = 80
    for number, errors in by_row.items():
        # The messages quote what was typed: a string cell, never a formula.
        cell = spreadsheets.set_text(
            ws.cell(row=number, column=column), "\n".join(e.line() for e in errors)
        )
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        cell.font = Font(color="9C0006")
        for error in errors:
            if error.column:
                ws.cell(row=number, column=error.column).fill = ERROR_FILL
    return _save(wb)


def errors_xlsx(db: Session, data: bytes) -> bytes:
    """Check the file again and return it with its error column."""
    return error_workbook(data, preview(db, data))


TEMPLATE_NOTES = {
    "code": "必須。市の店舗コード(英数字)。同じコードの店舗は上書きされます。",
    "name": "必須。店舗の名称(利用者に表示されます)。",
    "kana": "必須。店舗名のフリガナ(カタカナ)。半角カナ・ひらがなも取り込めます。",
    "category": "必須。一覧から選択。",
    "area": "必須。一覧から選択。",
    "address": "必須。店舗の所在地。",
    "phone": "店舗の電話番号(例 0566-00-0000)。",
    "hours": "営業時間(例 10:00〜19:00 水曜定休)。",
    "bank_code": "振込先。金融機関コード4桁。",
    "branch_code": "振込先。支店コード3桁。",
    "account_type": "振込先。普通 または 当座。",
    "account_number": "振込先。口座番号7桁(7桁未満は前に0を補います)。",
    "account_holder_kana": "振込先。通帳の口座名義(カナ)。",
    "email": "連絡用メールアドレス。",
}


def template_workbook() -> bytes:
    """The workbook to fill in: the canonical headings, one example row, drop-down lists for
    category, area and account type, and a sheet explaining each column."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "店舗一覧"
    ws.append(HEADERS)
    example = {
        "code": "K0001",
        "name": "かりや商店",
        "kana": "カリヤショウテン",
        "category": CATEGORIES[0],
        "area": next(iter(AREAS.values())),
        "address": "刈谷市東陽町1-1",
        "phone": "0566-00-0000",
        "hours": "10:00〜19:00",
        "bank_code": "1560",
        "branch_code": "003",
        "account_type": "普通",
        "account_number": "1234567",
        "account_holder_kana": "ｶﾘﾔｼﾖｳﾃﾝ",
        "email": "info@example.jp",
    }
    ws.append([example[key] for key in FIELDS])
    for index, column in enumerate(COLUMNS, start=1):
        letter = get_column_letter(index)
        cell = ws.cell(row=1, column=index)
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        ws.column_dimensions[letter].width = max(12, len(column.header) * 2 + 4)
        if column.key in TEXT_FORMAT_COLUMNS:  # keep leading zeros
            ws.column_dimensions[letter].number_format = "@"
            ws.cell(row=2, column=index).number_format = "@"
    ws.freeze_panes = "A2"

    options = wb.create_sheet("選択肢")
    options.append(["業種", "地区", "預金種目"])
    lists = [CATEGORIES, list(AREAS.values()), ["普通", "当座"]]
    for row in range(max(len(x) for x in lists)):
        options.append([x[row] if row < len(x) else None for x in lists])
    options.sheet_state = "hidden"
    last_row = MAX_ROWS + 1
    for key, letter, count in (
        ("category", "A", len(CATEGORIES)),
        ("area", "B", len(AREAS)),
        ("account_type", "C", 2),
    ):
        column = get_column_letter(FIELDS.index(key) + 1)
        validation = DataValidation(
            type="list",
            formula1=f"'選択肢'!${letter}$2:${letter}${count + 1}",
            allow_blank=True,
            showErrorMessage=True,
            errorTitle="一覧にない値です",
            error="一覧から選んでください。",
        )
        validation.add(f"{column}2:{column}{last_row}")
        ws.add_data_validation(validation)

    notes = wb.create_sheet("記入方法")
    notes.append(["項目", "説明"])
    for column in COLUMNS:
        notes.append([column.header, TEMPLATE_NOTES[column.key]])
    notes.append([])
    notes.append(
        ["", "1行目の見出しは変えずに、2行目から1店舗1行で入力してください(2行目は記入例です)。"]
    )
    notes.append(
        ["", "数式・セルの結合・パスワードは使わないでください。最大" + f"{MAX_ROWS:,}行です。"]
    )
    notes.column_dimensions["A"].width = 18
    notes.column_dimensions["B"].width = 90
    for cell in notes[1]:
        cell.font = Font(bold=True)
    return _save(wb)
