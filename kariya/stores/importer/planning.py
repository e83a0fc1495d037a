"""The plan: what each row of the file would do to the stores (the dry run); writes nothing."""

from __future__ import annotations

from openpyxl.utils import get_column_letter
from sqlalchemy import select
from sqlalchemy.orm import Session

from kariya.stores import bank_fields
from kariya.stores.importer.bounds import refuse
from kariya.stores.importer.columns import (
    BANK_FIELDS,
    BY_KEY,
    COLUMNS,
    FIELDS,
    HEADERS,
    NORMALIZERS,
    display,
)
from kariya.stores.importer.reading import Sheet, read
from kariya.stores.importer.report import CellError, Change, Report, RowPlan
from kariya.stores.models import Store
from kariya.stores.normalize import NormalizeError


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
            bank_fields.check_bank(final["bank_code"], final["branch_code"], payee="振込先")
        except bank_fields.ZenginError as exc:
            error("bank_code" if "金融機関コード" in exc.message else "branch_code", exc.message)
    return errors


def _refuse_formulas(normalised, sheet: Sheet) -> None:
    """A value that starts with "=" once normalised (a full-width ＝, or spaces before it, in
    the file) is refused like a formula: it is what would be stored. (Every spreadsheet we
    write keeps such text a string cell anyway: kariya.formats.spreadsheets.)"""
    found = [
        f"{get_column_letter(sheet.columns[key])}{number}"
        for number, values, _errors in normalised
        for key, value in values.items()
        if value.startswith("=") and key in sheet.columns
    ]
    if found:
        shown = "、".join(found[:5]) + (f" ほか{len(found) - 5}か所" if len(found) > 5 else "")
        raise refuse(
            "FORMULA",
            f"「=」「＝」で始まる値があります({shown})。表計算ソフトで数式として扱われるため"
            "取り込めません。先頭の「=」を取り除いてから取り込んでください。",
        )


def plan(db: Session, sheet: Sheet) -> Report:
    """What importing `sheet` would do; writes nothing."""
    normalised = []
    by_code: dict[str, list[int]] = {}
    for number, raw in sheet.rows:
        values, errors = _normalise_row(number, raw, sheet)
        normalised.append((number, values, errors))
        if values.get("code"):
            by_code.setdefault(values["code"], []).append(number)
    _refuse_formulas(normalised, sheet)
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


def preview(db: Session, data: bytes, *, filename: str = "") -> Report:
    """The dry run: read and check the file, compare with the stores; writes nothing."""
    report = plan(db, read(data))
    report.filename = filename
    return report
