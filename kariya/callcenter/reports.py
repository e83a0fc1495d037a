"""Call-centre reports (C-2, C-3): inquiries by day, category and state, and the time to answer
in business hours (received -> resolved; escalated -> answered by the city), for the city's and
the secretariat's pages; and the call-centre records as a table for `kariya export inquiries`."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import statistics
from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session

from kariya.callcenter import categories, inquiries, reading
from kariya.callcenter.models import Inquiry
from kariya.clock import JST, to_jst
from kariya.formats import spreadsheets
from kariya.settings import Settings
from workflows import inquiry as inquiry_wf

HEADER = [
    "No.",
    "受付日時",
    "受付方法",
    "お問い合わせの相手",
    "分類",
    "件名",
    "内容",
    "状態",
    "お客さま番号",
    "店舗コード",
    "確認コード",
    "期限",
    "市へ報告",
    "市への報告内容",
    "市の回答",
    "市の回答内容",
    "解決",
    "完了",
    "統合先",
    "担当",
]
CALLERS = {"resident": "市民", "store": "登録店", "other": "その他"}
CHANNELS = {"phone": "電話", "mail": "メール", "other": "その他"}


@dataclasses.dataclass(frozen=True)
class Duration:
    count: int
    mean_hours: float | None
    median_hours: float | None
    max_hours: float | None


def _duration(values: list[dt.timedelta]) -> Duration:
    hours = [v.total_seconds() / 3600 for v in values]
    if not hours:
        return Duration(0, None, None, None)
    return Duration(
        len(hours),
        round(statistics.fmean(hours), 1),
        round(statistics.median(hours), 1),
        round(max(hours), 1),
    )


def summary(db: Session, settings: Settings) -> dict:
    found = list(db.scalars(select(Inquiry).order_by(Inquiry.received_at)))
    cal = inquiries.calendar(settings)
    by_day = Counter(to_jst(i.received_at, JST).date() for i in found)
    by_category = Counter(i.category for i in found)
    by_state = Counter(i.state for i in found)
    resolution = [cal.between(i.received_at, i.resolved_at) for i in found if i.resolved_at]
    city = [
        cal.between(i.escalated_at, i.answered_at)
        for i in found
        if i.escalated_at and i.answered_at and i.answered_at >= i.escalated_at
    ]
    return {
        "total": len(found),
        "by_day": sorted(by_day.items()),
        "by_category": [
            (c.code, c.label, by_category.get(c.code, 0)) for c in categories.choices()
        ],
        "by_state": [(s, inquiries.state_label(s), by_state.get(s, 0)) for s in inquiry_wf.S],
        "escalated": sum(1 for i in found if i.escalated_at),
        "resolution": _duration(resolution),
        "city_answer": _duration(city),
    }


def _when(value: dt.datetime | None) -> str:
    return to_jst(value).strftime("%Y-%m-%d %H:%M") if value else ""


def rows(db: Session) -> tuple[list[str], list[list]]:
    """Every inquiry as one row (C-2: the call-centre records), residents by person_ref."""
    found = list(db.scalars(select(Inquiry).order_by(Inquiry.id)))
    refs_of = reading.references(db, found)
    table = []
    for i in found:
        r = refs_of[i.id]
        table.append(
            [
                i.id,
                _when(i.received_at),
                CHANNELS.get(i.channel, i.channel),
                CALLERS.get(i.caller_type, i.caller_type),
                categories.label(i.category),
                i.subject,
                i.body,
                inquiries.state_label(i.state),
                r["person_ref"] or "",
                r["store_code"] or "",
                r["confirmation_code"] or "",
                _when(i.due_at),
                _when(i.escalated_at),
                i.escalation_summary,
                _when(i.answered_at),
                i.answer,
                _when(i.resolved_at),
                _when(i.closed_at),
                i.merged_into_id or "",
                i.assignee or "",
            ]
        )
    return HEADER, table


def table_bytes(
    header: list[str], table: list[list], fmt: str = "csv", encoding: str = "utf-8-sig"
) -> bytes:
    """The table as CSV (UTF-8 with BOM or cp932: what Excel on the city's PCs opens) or .xlsx;
    text a spreadsheet would read as a formula is written with a leading ' and every .xlsx text
    cell is a string cell (kariya.formats.spreadsheets). A character cp932 cannot hold is refused
    with the cell named, never dropped."""
    if fmt == "xlsx":
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet()
        spreadsheets.append(sheet, header)
        for row in table:
            spreadsheets.append(sheet, spreadsheets.csv_row(row))
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(header)
    for row in table:
        writer.writerow(spreadsheets.csv_row(row))
    data = text.getvalue()
    try:
        return data.encode(encoding)
    except UnicodeEncodeError as exc:
        bad = data[exc.start : exc.end]
        line = data.count("\n", 0, exc.start) + 1
        raise ValueError(
            f"{encoding} では書けない文字「{bad}」が {line} 行目にあります。utf-8-sig で出力してください。"
        ) from None
