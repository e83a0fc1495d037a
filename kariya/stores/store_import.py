"""Importing the city's store list from Excel (S-1, P-7; DESIGN.md section 5).

The city sends a workbook: the first sheet, headings in its first row (the canonical ones are
`HEADERS`; spaces, full-width characters, brackets and a few other names are accepted, columns in
any order), one store a row. `preview` reads it and says, per row, whether the store would be
created, updated (with the differences) or left unchanged, or what is wrong with it, per column,
in Japanese; it writes nothing. `apply` writes it all in the caller's transaction, or nothing at
all when any row has an error: stores are matched by their code (an upsert), so importing the
same file again changes nothing. Files that are not plain .xlsx workbooks of a sensible size are
refused before any row is read (`ImportRefused`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import os
import re
import secrets
import tempfile
import time
import tomllib
import zipfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import openpyxl
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from kariya.errors import Invalid, NotFound
from kariya.models import Store, TransitionRecord
from kariya.payouts import zengin
from kariya.residents.options import AREAS
from kariya.settings import PROJECT_ROOT
from kariya.stores import normalize, registration
from kariya.stores.finder import store_search_text
from kariya.stores.normalize import NormalizeError
from workflows import store as store_wf
from workflows.binding import label as state_label

MAX_BYTES = 10 * 1024 * 1024  # the upload, as sent
MAX_UNZIPPED = 200 * 1024 * 1024  # what the .xlsx (a ZIP) may expand to: no ZIP bombs
MAX_ROWS = 5000  # stores in one file (about 600 are expected, P-7)
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # encrypted .xlsx and old .xls files
ZIP_MAGIC = b"PK\x03\x04"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ERROR_HEADER = "エラー"
LOCK_KEY = 0x4B53_5449  # pg_advisory_xact_lock: one import at a time


@dataclasses.dataclass(frozen=True)
class Column:
    key: str  # the Store attribute ("postal_code" is folded into the address)
    header: str  # the canonical heading (DESIGN.md section 5)
    required: bool  # the column must be present and every row must fill it
    aliases: tuple[str, ...] = ()


COLUMNS = (
    Column("code", "店舗コード", True, ("店舗CD", "店舗番号", "店コード", "店番号", "コード")),
    Column("name", "店舗名", True, ("店名", "店舗名称", "名称", "屋号", "店舗の名称")),
    Column(
        "kana",
        "店舗名カナ",
        True,
        (
            "店名カナ",
            "店舗名フリガナ",
            "店舗名ヨミガナ",
            "フリガナ",
            "ヨミガナ",
            "カナ",
            "店舗カナ",
        ),
    ),
    Column("category", "業種", True, ("業態", "カテゴリ", "カテゴリー", "分類", "業種名")),
    Column("area", "地区", True, ("地区名", "地域", "エリア")),
    Column("address", "住所", True, ("所在地", "店舗住所", "店舗所在地")),
    Column("phone", "電話番号", False, ("電話", "TEL", "TEL番号", "店舗電話番号", "電話番号TEL")),
    Column("hours", "営業時間", False, ("営業時間帯",)),
    Column("bank_code", "金融機関コード", False, ("銀行コード", "金融機関番号", "金融機関CD")),
    Column("branch_code", "支店コード", False, ("支店番号", "店番", "支店CD")),
    Column("account_type", "預金種目", False, ("口座種別", "預金種別", "口座種目", "種目")),
    Column("account_number", "口座番号", False, ()),
    Column(
        "account_holder_kana",
        "口座名義カナ",
        False,
        ("口座名義", "口座名義人", "口座名義人カナ", "名義カナ", "口座名義フリガナ"),
    ),
    Column("email", "メールアドレス", False, ("メール", "EMAIL", "E-MAIL", "MAIL", "Eメール")),
)
POSTAL = Column("postal_code", "郵便番号", False, ("〒",))
HEADERS = [c.header for c in COLUMNS]
BY_KEY = {c.key: c for c in (*COLUMNS, POSTAL)}
BANK_FIELDS = ("bank_code", "branch_code", "account_type", "account_number", "account_holder_kana")
FIELDS = [c.key for c in COLUMNS]
TEXT_FORMAT_COLUMNS = ("code", "phone", "bank_code", "branch_code", "account_number")

_HEADER_KEYS: dict[str, str] = {}
for _column in (*COLUMNS, POSTAL):
    for _name in (_column.header, *_column.aliases):
        _HEADER_KEYS[normalize.header(_name)] = _column.key

HISTORY_LABELS = {
    "import_create": "一括取込(新規登録)",
    "import_update": "一括取込(登録内容の変更)",
    "reissue_qr": "QRコード再発行",
    "bank_change": "振込先口座の変更",
}


# --- what the import accepts (configuration, not code) ---------------------------------------


def _fold(value) -> str:
    return re.sub(r"\s", "", normalize.nfkc(value)).upper()


def _load_categories() -> tuple[list[str], dict[str, str]]:
    data = tomllib.loads(
        resources.files("kariya").joinpath("data/store_categories.toml").read_text("utf-8")
    )
    names = list(data["categories"])
    lookup = {_fold(n): n for n in names}
    for alias, target in data.get("aliases", {}).items():
        if target not in names:
            raise ValueError(f"store_categories.toml: alias {alias!r} -> unknown {target!r}")
        lookup.setdefault(_fold(alias), target)
    return names, lookup


CATEGORIES, _CATEGORY_LOOKUP = _load_categories()


def _area_lookup() -> dict[str, str]:
    lookup = {}
    for code, label in AREAS.items():
        for name in (code, label, label.removesuffix("地区")):
            lookup.setdefault(_fold(name), code)
    return lookup


_AREA_LOOKUP = _area_lookup()


def category(value) -> str:
    s = normalize.nfkc(value)
    if not s:
        return ""
    found = _CATEGORY_LOOKUP.get(_fold(s))
    if found is None:
        raise NormalizeError(
            f"業種「{s}」は登録できる業種ではありません(「{'」「'.join(CATEGORIES)}」のいずれか)。"
        )
    return found


def area(value) -> str:
    """An area by its label ("刈谷地区", "刈谷") or code ("kariya"); stored as the code."""
    s = normalize.nfkc(value)
    if not s:
        return ""
    found = _AREA_LOOKUP.get(_fold(s))
    if found is None:
        raise NormalizeError(
            f"地区「{s}」は登録できる地区ではありません(「{'」「'.join(AREAS.values())}」のいずれか)。"
        )
    return found


NORMALIZERS: dict[str, Callable[[object], str]] = {
    "code": lambda v: normalize.code(v, max_length=20, what="店舗コード"),
    "name": lambda v: normalize.text(v, max_length=200, what="店舗名"),
    "kana": lambda v: normalize.katakana(v, max_length=200, what="店舗名カナ"),
    "category": category,
    "area": area,
    "address": lambda v: normalize.address(v, max_length=300),
    "postal_code": normalize.postal_code,
    "phone": normalize.phone,
    "hours": normalize.hours,
    "bank_code": lambda v: normalize.digits(v, 4, what="金融機関コード"),
    "branch_code": lambda v: normalize.digits(v, 3, what="支店コード"),
    "account_type": normalize.account_type,
    "account_number": lambda v: normalize.digits(v, 7, what="口座番号"),
    "account_holder_kana": normalize.account_holder,
    "email": normalize.email,
}


def display(key: str, value: str) -> str:
    """A stored value as the secretariat reads it (areas by their label)."""
    if key == "area":
        return AREAS.get(value, value)
    return value


# --- reading the workbook ---------------------------------------------------------------------


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
    (read-only mode), and finally (None, merged ranges). Formulas come back as "=..." because
    the workbook is read with data_only=False."""
    from openpyxl.worksheet._reader import WorkSheetParser

    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception:  # openpyxl raises many kinds on a damaged or foreign file
        raise _refuse("NOT_XLSX", NOT_XLSX_MESSAGE) from None
    try:
        if not wb.worksheets:
            raise _refuse("NOT_XLSX", "ワークシートがありません。")
        ws = wb.worksheets[0]
        # The public row iterator of a read-only sheet does not expose merged cells; its parser
        # does, once the whole sheet has been read (mergeCells follow sheetData).
        with ws._get_source() as source:
            parser = WorkSheetParser(
                source,
                ws._shared_strings,
                data_only=False,
                epoch=wb.epoch,
                date_formats=wb._date_formats,
                timedelta_formats=wb._timedelta_formats,
            )
            for number, cells in parser.parse():
                yield number, {c["column"]: (c["value"], c["data_type"]) for c in cells}
            merged = [
                str(m.ref) for m in (parser.merged_cells.mergeCell if parser.merged_cells else [])
            ]
        yield None, merged
    except ImportRefused:
        raise
    except Exception:
        raise _refuse("NOT_XLSX", NOT_XLSX_MESSAGE) from None
    finally:
        wb.close()


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


# --- the plan: what each row would do -----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CellError:
    row: int
    column: int | None  # 1-based column number in the file, None for the row as a whole
    header: str  # the heading as written in the file
    message: str

    def line(self) -> str:
        where = f"{self.row}行目" + (f" {self.header}" if self.header else "")
        return f"{where}: {self.message}"


@dataclasses.dataclass(frozen=True)
class Change:
    key: str
    label: str
    old: str
    new: str


@dataclasses.dataclass
class RowPlan:
    row: int
    code: str
    name: str
    action: str  # create | update | unchanged | error
    values: dict[str, str]  # create: every field; update: the changed fields
    changes: list[Change]
    errors: list[CellError]
    store: Store | None = None

    ACTION_LABELS = {"create": "新規", "update": "更新", "unchanged": "変更なし", "error": "エラー"}

    @property
    def action_label(self) -> str:
        return self.ACTION_LABELS[self.action]


@dataclasses.dataclass
class Report:
    rows: list[RowPlan]
    ignored: list[str]
    notices: list[str]
    filename: str = ""
    applied: bool = False
    activated: int = 0
    not_activated: list[str] = dataclasses.field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(RowPlan.ACTION_LABELS, 0)
        for row in self.rows:
            counts[row.action] += 1
        return counts

    @property
    def ok(self) -> bool:
        return not any(row.errors for row in self.rows)

    @property
    def errors(self) -> list[CellError]:
        return [e for row in self.rows for e in row.errors]

    def error_lines(self) -> list[str]:
        return [e.line() for e in self.errors]

    def summary(self) -> str:
        c = self.counts
        return (
            f"全{len(self.rows)}行: 新規 {c['create']}件 / 更新 {c['update']}件 / "
            f"変更なし {c['unchanged']}件 / エラー {c['error']}件"
        )

    def activation_summary(self) -> str:
        return f"{self.activated}店舗を利用可能にしました(QRコード発行済み)。"

    def text(self) -> str:
        """The preview as plain text (the CLI)."""
        lines = [
            ("取り込みました" if self.applied else "取り込み内容の確認(まだ登録していません)")
            + f" {self.summary()}"
        ]
        if self.activated:
            lines.append(self.activation_summary())
        lines += self.not_activated
        lines += self.notices
        for row in self.rows:
            if row.action == "create":
                lines.append(f"  新規 {row.row}行目 {row.code} {row.name}")
            elif row.action == "update":
                diff = "、".join(
                    f"{c.label}: {c.old or '(空)'} → {c.new or '(空)'}" for c in row.changes
                )
                lines.append(f"  更新 {row.row}行目 {row.code} {row.name}: {diff}")
        return "\n".join(lines)


def _normalise_row(number: int, raw: dict[str, object], sheet: Sheet) -> tuple[dict, list]:
    values: dict[str, str] = {}
    errors: list[CellError] = []
    for key, value in raw.items():
        try:
            values[key] = NORMALIZERS[key](value)
        except NormalizeError as exc:
            errors.append(CellError(number, sheet.columns[key], sheet.headers[key], exc.message))
    postal = values.pop("postal_code", "")
    if (
        postal
        and "address" in values
        and values["address"]
        and not values["address"].startswith("〒")
    ):
        values["address"] = f"〒{postal} {values['address']}"
    for column in COLUMNS:
        position = sheet.columns.get(column.key)
        empty = column.required and position is not None and not values.get(column.key)
        if empty and not any(e.column == position for e in errors):
            errors.append(
                CellError(
                    number,
                    position,
                    sheet.headers[column.key],
                    f"{column.header}が入力されていません。",
                )
            )
    return values, errors


def _check_final(number: int, final: dict[str, str], sheet: Sheet) -> list[CellError]:
    """Rules on the store as it would be after the import (file values over stored ones)."""
    errors = []

    def error(key: str, message: str) -> None:
        column = sheet.columns.get(key)
        errors.append(
            CellError(number, column, sheet.headers.get(key, BY_KEY[key].header), message)
        )

    filled = [k for k in BANK_FIELDS if final.get(k)]
    if filled and len(filled) < len(BANK_FIELDS):
        for key in BANK_FIELDS:
            if not final.get(key):
                error(
                    key,
                    f"振込先の{BY_KEY[key].header}が入力されていません(振込先は5項目すべてを入力してください)。",
                )
    elif filled:
        try:
            zengin.check_bank(final["bank_code"], final["branch_code"], payee="振込先")
        except zengin.ZenginError as exc:
            error("bank_code" if "金融機関コード" in exc.message else "branch_code", exc.message)
    return errors


def plan(db: Session, sheet: Sheet) -> Report:
    """What importing `sheet` would do; writes nothing."""
    normalised = []
    by_code: dict[str, list[int]] = {}
    for number, raw in sheet.rows:
        values, errors = _normalise_row(number, raw, sheet)
        normalised.append((number, values, errors))
        if values.get("code"):
            by_code.setdefault(values["code"], []).append(number)
    codes = list(by_code)
    existing = {}
    for start in range(0, len(codes), 1000):
        chunk = codes[start : start + 1000]
        existing.update({s.code: s for s in db.scalars(select(Store).where(Store.code.in_(chunk)))})

    rows = []
    for number, values, errors in normalised:
        code = values.get("code", "")
        duplicates = by_code.get(code, [])
        if len(duplicates) > 1:
            others = "、".join(f"{n}行目" for n in duplicates if n != number)
            errors.append(
                CellError(
                    number,
                    sheet.columns["code"],
                    sheet.headers["code"],
                    f"店舗コード {code} が{others}と重複しています。1店舗1行にしてください。",
                )
            )
        store = existing.get(code)
        if store is None:
            final = {key: values.get(key, "") for key in FIELDS}
        else:
            final = {key: values.get(key, getattr(store, key) or "") for key in FIELDS}
        errors += _check_final(number, final, sheet)
        name = final.get("name") or (store.name if store else "")
        if errors:
            rows.append(RowPlan(number, code, name, "error", {}, [], errors, store))
            continue
        if store is None:
            rows.append(RowPlan(number, code, name, "create", final, [], [], None))
            continue
        changes = [
            Change(
                key, BY_KEY[key].header, display(key, getattr(store, key) or ""), display(key, new)
            )
            for key, new in final.items()
            if (getattr(store, key) or "") != new
        ]
        changed = {c.key: final[c.key] for c in changes}
        rows.append(
            RowPlan(
                number,
                code,
                name,
                "update" if changes else "unchanged",
                changed,
                changes,
                [],
                store,
            )
        )

    notices = [
        f"列「{h}」は取り込みません(取り込む列: {'、'.join(HEADERS)})。" for h in sheet.ignored
    ]
    absent = [c.header for c in COLUMNS if c.key not in sheet.columns]
    if absent and any(r.store is not None for r in rows):
        notices.append(f"ファイルにない列({'、'.join(absent)})は、登録済みの店舗では変更しません。")
    return Report(rows=rows, ignored=sheet.ignored, notices=notices)


# --- the service's entry points -----------------------------------------------------------------


def preview(db: Session, data: bytes, *, filename: str = "") -> Report:
    """The dry run: read and check the file, compare with the stores; writes nothing."""
    report = plan(db, read(data))
    report.filename = filename
    return report


def errors_refusal(report: Report) -> Invalid:
    count = len({e.row for e in report.errors})
    return Invalid(
        f"{count}行にエラーがあるため、取り込みませんでした(何も登録・変更していません)。"
        "エラーを直してから、もう一度取り込んでください。",
        code="IMPORT_ERRORS",
        details=report.error_lines(),
    )


def apply(
    db: Session,
    clock,
    data: bytes,
    *,
    actor: str,
    activate: bool = False,
    filename: str = "",
) -> Report:
    """Create and update the stores of the file in the caller's transaction, all or nothing.
    With `activate`, every store of the file still on its way (applied, under review, approved)
    is taken to active, its QR code issued; a suspended, withdrawn or rejected store is left as
    it is and named in the report. Raises Invalid (details: one line per error) if any row is wrong."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(select(func.pg_advisory_xact_lock(LOCK_KEY)))  # one import at a time
    report = preview(db, data, filename=filename)
    if not report.ok:
        raise errors_refusal(report)
    now = clock.now()
    source = f"一括取込 {filename}".strip()
    history = []
    for row in report.rows:
        if row.action == "create":
            store = registration.create(db, clock, **row.values)
            row.store = store
            history.append((store, "import_create", source))
        elif row.action == "update":
            store = row.store
            for key, value in row.values.items():
                setattr(store, key, value)
            store.search_text = store_search_text(store)
            store.updated_at = now
            changed = "、".join(c.label for c in row.changes)
            history.append((store, "import_update", f"{source}: {changed}"))
    db.flush()
    if history:
        db.execute(
            insert(TransitionRecord),
            [
                dict(
                    machine=store_wf.MACHINE.kariya_name,
                    entity_id=store.id,
                    event=event,
                    from_state=store.state,
                    to_state=store.state,
                    actor=actor,
                    reason=reason[:500],
                    at=now,
                )
                for store, event, reason in history
            ],
        )
    if activate:
        for row in report.rows:
            if row.store.state == "active":
                continue
            if registration.activate_all_the_way(db, clock, row.store, actor=actor):
                report.activated += 1
            else:
                report.not_activated.append(
                    f"{row.code} {row.name}: {state_label(store_wf.MACHINE, row.store.state)}"
                    "のため利用可能にしていません。"
                )
    report.applied = True
    return report


def import_stores(
    db: Session,
    clock,
    data: bytes,
    *,
    actor: str,
    dry_run: bool = True,
    activate: bool = False,
    filename: str = "",
) -> Report:
    """The dry run (the default) or the import itself."""
    if dry_run:
        return preview(db, data, filename=filename)
    return apply(db, clock, data, actor=actor, activate=activate, filename=filename)


# --- workbooks: the errors, the template --------------------------------------------------------

ERROR_FILL = PatternFill("solid", fgColor="FFC7CE")
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")


def _save(wb) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def error_workbook(data: bytes, report: Report) -> bytes:
    """The uploaded workbook with an error column added (and the wrong cells coloured), to send
    back to whoever fixes the list."""
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb.worksheets[0]
    by_row: dict[int, list[CellError]] = {}
    for error in report.errors:
        by_row.setdefault(error.row, []).append(error)
    column = ws.max_column + 1
    header = ws.cell(row=1, column=column, value=ERROR_HEADER)
    header.font = Font(bold=True, color="9C0006")
    header.fill = ERROR_FILL
    ws.column_dimensions[get_column_letter(column)].width = 80
    for number, errors in by_row.items():
        cell = ws.cell(row=number, column=column, value="\n".join(e.line() for e in errors))
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


# --- keeping an upload between the preview and the confirmation -------------------------------

UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
UPLOAD_TTL = dt.timedelta(hours=12)


def upload_dir(settings: dict) -> Path:
    """Where uploads wait for their confirmation (`kariya.store_import_dir`, default var/)."""
    path = Path(settings.get("kariya.store_import_dir") or PROJECT_ROOT / "var" / "store_imports")
    if not path.is_absolute():
        path = PROJECT_ROOT / path
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _upload_path(settings: dict, upload_id: str) -> Path:
    if not UPLOAD_ID.match(upload_id or ""):
        raise NotFound(UPLOAD_GONE, code="UPLOAD_NOT_FOUND")
    return upload_dir(settings) / f"{upload_id}.xlsx"


UPLOAD_GONE = "取り込むファイルが見つかりません(有効期限切れか、取り込み済みです)。もう一度アップロードしてください。"


def keep_upload(settings: dict, data: bytes) -> str:
    """Keep an uploaded file on the server under a random id; returns the id."""
    directory = upload_dir(settings)
    cutoff = time.time() - UPLOAD_TTL.total_seconds()
    for old in directory.glob("*.xlsx"):
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink(missing_ok=True)
        except OSError:
            continue
    upload_id = secrets.token_hex(16)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".upload-", suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, directory / f"{upload_id}.xlsx")
    return upload_id


def read_upload(settings: dict, upload_id: str) -> bytes:
    path = _upload_path(settings, upload_id)
    try:
        if time.time() - path.stat().st_mtime > UPLOAD_TTL.total_seconds():
            raise FileNotFoundError
        return path.read_bytes()
    except FileNotFoundError:
        raise NotFound(UPLOAD_GONE, code="UPLOAD_NOT_FOUND") from None


def discard_upload(settings: dict, upload_id: str) -> None:
    if UPLOAD_ID.match(upload_id or ""):
        _upload_path(settings, upload_id).unlink(missing_ok=True)


def receive(settings: dict, data: bytes) -> str:
    """An uploaded file: refuse it now if it cannot be read at all (ImportRefused), else keep it
    until the secretariat confirms the preview; returns the upload's id."""
    read(data)
    return keep_upload(settings, data)
