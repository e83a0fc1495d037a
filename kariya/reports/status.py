"""The status reports and the final report (C-3), as .xlsx (figures and tables) and as a
printable PDF (the same tables and the charts), from the figures of kariya.reports.figures.

After each round settles the beat builds that round's report once (`due_weekly`), keeps it
(status_report) and tells the city's contacts (setting kariya.reports.city_contacts) through the
mail outbox, with the main figures and the page to download it from; `kariya report weekly
--round K` and `kariya report final` build one now. The words are in
templates/print/report.toml.jinja2.
"""

from __future__ import annotations

import dataclasses
import io
import logging
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Font
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    CondPageBreak,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    TableStyle,
)
from reportlab.platypus import Table as PdfTable
from sqlalchemy import select
from sqlalchemy.orm import Session

from kariya import pdf_fonts
from kariya.campaign import definition
from kariya.errors import Invalid, NotFound
from kariya.mail import outbox
from kariya.materials.texts import toml as print_toml
from kariya.models import Campaign, StatusReport
from kariya.reports import charts, figures
from kariya.reports.sheets import defuse
from kariya.settings import Settings
from workflows import round as round_wf

log = logging.getLogger(__name__)

PDF_STORES = 30  # the PDF lists the stores with the most use; the workbook lists every store


@dataclasses.dataclass(frozen=True)
class Table:
    title: str
    headers: list[str]
    rows: list[list]  # str or int (yen and counts)
    note: str = ""


@dataclasses.dataclass(frozen=True)
class Report:
    title: str
    as_of: str
    intro: str
    words: dict
    figures: dict
    round_number: int | None
    tables: list[Table]
    callcenter: list[list] | None

    @property
    def kind(self) -> str:
        return "final" if self.round_number is None else "weekly"


def _rate(part: int, whole: int) -> str:
    return f"{part * 100 / whole:.1f}%" if whole else "-"


def callcenter_rows(db: Session, campaign: Campaign) -> list[list] | None:
    """The call centre's figures for the reports (inquiries by category and state, escalations):
    provided by the call centre's domain; None where it keeps no records yet."""
    return None


def build(db: Session, clock, *, round_number: int | None = None) -> Report:
    campaign = definition.latest(db)
    if campaign is None:
        raise Invalid("キャンペーンが登録されていません。")
    numbers = [r.number for r in campaign.rounds]
    if round_number is not None and round_number not in numbers:
        raise NotFound(f"第{round_number}回はありません。", code="NO_SUCH_ROUND")
    data = figures.compute(db, campaign, clock.now())
    zone = ZoneInfo(campaign.timezone)
    as_of = clock.now().astimezone(zone).strftime("%Y年%m月%d日 %H:%M")
    words = print_toml(
        "report.toml.jinja2", campaign=campaign.name, round=round_number or "", as_of=as_of
    )
    title = words["weekly_title"] if round_number is not None else words["final_title"]
    intro = words["intro_weekly"] if round_number is not None else words["intro_final"]
    return Report(
        title=title,
        as_of=words["as_of"],
        intro=intro,
        words=words,
        figures=data,
        round_number=round_number,
        tables=_tables(data, words, round_number),
        callcenter=callcenter_rows(db, campaign),
    )


def _tables(data: dict, words: dict, round_number: int | None) -> list[Table]:
    s, n = words["sections"], words["notes"]
    tables = []
    if round_number is not None:
        r = next(r for r in data["rounds"] if r["round"] == round_number)
        tables.append(
            Table(
                s["round"],
                ["項目", "値"],
                [
                    ["利用期間", f"{r['starts'][:10]} 〜 {r['ends'][:10]}(終了日を含まない)"],
                    ["状態", r["state_label"]],
                    ["予定額(円)", r["planned"]],
                    ["前の回からの繰越(円)", r["rollover_in"]],
                    ["配布枠(円)", r["quota"]],
                    ["配布額(円)", r["issued_amount"]],
                    ["取得件数", r["acquisitions"]],
                    ["利用件数", r["uses"]],
                    ["利用額(円)", r["used_amount"]],
                    ["期限切れ(未使用、円)", r["expired_amount"]],
                    ["次の回への繰越(円)", r["rollover"]],
                    ["配布率(配布額/配布枠)", _rate(r["issued_amount"], r["quota"])],
                    ["利用率(利用額/配布額)", _rate(r["used_amount"], r["issued_amount"])],
                ],
                n["voids"],
            )
        )
    tables.append(
        Table(
            s["rounds"],
            [
                "回",
                "状態",
                "配布枠(円)",
                "配布額(円)",
                "取得件数",
                "利用件数",
                "利用額(円)",
                "期限切れ(円)",
                "繰越(円)",
            ],
            [
                [
                    f"第{r['round']}回",
                    r["state_label"],
                    r["quota"],
                    r["issued_amount"],
                    r["acquisitions"],
                    r["uses"],
                    r["used_amount"],
                    r["expired_amount"],
                    r["rollover"],
                ]
                for r in data["rounds"]
            ],
            n["rollover"],
        )
    )
    f, cf, p = data["funds"], data["coupon_funds"], data["payouts"]
    tables.append(
        Table(
            s["funds"],
            ["項目", "金額(円)"],
            [
                ["総額", f["total"]],
                ["利用済み", f["used"]],
                ["未使用(配布済み)", f["outstanding"]],
                ["未配布", f["unissued"]],
                ["支払額の調整", f["adjusted"]],
                ["市へ返還", f["returned"]],
                ["予算の執行率(利用済み/総額)", _rate(f["used"], f["total"])],
            ],
            n["ledger"],
        )
    )
    tables.append(
        Table(
            s["coupon_funds"],
            ["項目", "金額(円)"],
            [
                ["市からの前払い", cf["advanced"]],
                ["登録店へ支払済み", cf["paid_to_stores"]],
                ["口座の残高", cf["balance"]],
                [" うち登録店へ支払予定", cf["owed_to_stores"]],
                [" うち未使用・未配布", cf["in_play"]],
                [" うち市へ返還", cf["to_return"]],
            ],
        )
    )
    tables.append(
        Table(
            s["payouts"],
            ["項目", "金額(円)"],
            [
                ["振込済み", p["paid"]],
                ["承認済み(振込待ち)", p["approved"]],
                ["未承認(次の支払バッチへ)", p["pending"]],
            ],
        )
    )
    res, st = data["residents"], data["stores"]
    tables.append(
        Table(
            s["residents"],
            ["項目", "人数・店舗数"],
            [
                ["登録者", res["registered"]],
                ["年代・地区の回答済み", res["with_profile"]],
                ["割引券を取得した人", res["acquired"]],
                ["利用可能な店舗", st["active"]],
                ["1回以上利用された店舗", st["used_at_least_once"]],
                ["店舗の利用率", _rate(st["used_at_least_once"], st["registered"])],
            ],
        )
    )
    for key, head in (("by_area", "地区"), ("by_age_band", "年代")):
        tables.append(
            Table(
                s[key],
                [head, "登録者", "取得件数", "利用額(円)"],
                [
                    [g["label"], g["residents"], g["acquisitions"], g["used_amount"]]
                    for g in data[key]
                ],
            )
        )
    tables.append(
        Table(
            s["by_category"],
            ["業種", "利用可能な店舗", "1回以上利用", "利用件数", "利用額(円)"],
            [
                [c["category"], c["stores"], c["used_at_least_once"], c["uses"], c["used_amount"]]
                for c in data["by_category"]
            ],
        )
    )
    tables.append(
        Table(
            s["stores"],
            [
                "店舗コード",
                "店舗名",
                "業種",
                "地区",
                "状態",
                "利用件数",
                "利用額(円)",
                "振込済み(円)",
            ],
            [
                [
                    x["code"],
                    x["name"],
                    x["category"],
                    x["area"],
                    x["state_label"],
                    x["uses"],
                    x["used_amount"],
                    x["paid"],
                ]
                for x in sorted(data["store_table"], key=lambda x: (-x["used_amount"], x["code"]))
            ],
        )
    )
    ser = data["series"]
    tables.append(
        Table(
            s["days"],
            ["日付", "配布額(円)", "利用件数", "利用額(円)", "計画(円)"],
            [
                [d, ser["issued"][i], ser["uses"][i], ser["used"][i], ser["plan"][i]]
                for i, d in enumerate(ser["days"])
            ],
        )
    )
    return tables


# --- the workbook -------------------------------------------------------------------------------


def xlsx(report: Report) -> bytes:
    wb = Workbook()
    first = wb.active
    first.title = "概要"
    first.append([report.title])
    first["A1"].font = Font(bold=True, size=14)
    first.append([report.as_of])
    first.append([report.intro])
    for i, table in enumerate(report.tables):
        if i < 7:  # the short tables on the first sheet, one after another
            ws, gap = first, True
        else:
            ws, gap = wb.create_sheet(table.title[:31]), False
        if gap:
            ws.append([])
        ws.append([table.title])
        ws.cell(ws.max_row, 1).font = Font(bold=True, size=12)
        ws.append(table.headers)
        for cell in ws[ws.max_row]:
            cell.font = Font(bold=True)
        for row in table.rows:
            ws.append([defuse(v) if isinstance(v, str) else v for v in row])
            for cell in ws[ws.max_row]:
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # typed text, never a formula
                elif isinstance(cell.value, int):
                    cell.number_format = "#,##0"
        if table.note:
            ws.append([table.note])
    ws = wb.create_sheet(report.words["sections"]["callcenter"])
    if report.callcenter:
        for row in report.callcenter:
            ws.append(row)
    else:
        ws.append([report.words["notes"]["callcenter_none"]])
    for sheet in wb.worksheets:
        sheet.column_dimensions["A"].width = 28
        for col in "BCDEFGHI":
            sheet.column_dimensions[col].width = 16
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# --- the PDF --------------------------------------------------------------------------------------


def pdf(report: Report) -> bytes:
    pdf_fonts.ensure()
    font = pdf_fonts.GOTHIC
    title = ParagraphStyle("title", fontName=font, fontSize=18, leading=26, spaceAfter=6)
    heading = ParagraphStyle(
        "h", fontName=font, fontSize=13, leading=18, spaceBefore=8, spaceAfter=4
    )
    body = ParagraphStyle("b", fontName=font, fontSize=9.5, leading=14)
    small = ParagraphStyle(
        "s", fontName=font, fontSize=8, leading=11, textColor=colors.HexColor("#555555")
    )
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=report.title,
        author=report.words["author"],
    )
    width = doc.width
    story: list = [
        Paragraph(escape(report.title), title),
        Paragraph(escape(report.as_of), body),
        Paragraph(escape(report.intro), body),
        Spacer(1, 4 * mm),
    ]

    def cell(value) -> str:
        return f"{value:,}" if isinstance(value, int) else str(value)

    def table_flowable(table: Table, rows: list[list]) -> list:
        data = [table.headers] + [[cell(v) for v in row] for row in rows]
        t = PdfTable(data, repeatRows=1, hAlign="LEFT")
        style = [
            ("FONT", (0, 0), (-1, -1), font, 8.5),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8f5e9")),
            ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#999999")),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ]
        for j in range(len(table.headers)):
            if any(isinstance(row[j], int) for row in rows):
                style.append(("ALIGN", (j, 1), (j, -1), "RIGHT"))
        t.setStyle(TableStyle(style))
        parts = [Paragraph(escape(table.title), heading), t]
        if table.note:
            parts.append(Paragraph(escape(table.note), small))
        return parts

    charts_of = charts.all_of(report.figures, report.round_number)
    for table in report.tables:
        rows = table.rows
        if table.title == report.words["sections"]["stores"]:
            rows = rows[:PDF_STORES]
            table = dataclasses.replace(
                table, note=f"利用額の多い{PDF_STORES}店舗。全店舗はExcel版にあります。"
            )
        if table.title == report.words["sections"]["days"]:
            continue  # drawn as charts
        story.append(CondPageBreak(40 * mm))
        story.extend(
            table_flowable(table, rows)
            if len(rows) > 12
            else [KeepTogether(table_flowable(table, rows))]
        )
    story.append(Paragraph(escape(report.words["sections"]["callcenter"]), heading))
    if report.callcenter:
        story.append(PdfTable([[cell(v) for v in row] for row in report.callcenter]))
    else:
        story.append(Paragraph(escape(report.words["notes"]["callcenter_none"]), body))
    story.append(Paragraph(escape(report.words["sections"]["charts"]), heading))
    for chart in charts_of:
        story.append(KeepTogether([charts.drawing(chart, width, font), Spacer(1, 3 * mm)]))
    doc.build(story)
    return out.getvalue()


def render(report: Report, fmt: str) -> bytes:
    if fmt == "xlsx":
        return xlsx(report)
    if fmt == "pdf":
        return pdf(report)
    raise Invalid("出力するファイルの拡張子は .xlsx か .pdf にしてください。", code="INVALID")


# --- the rounds' reports, built once after each round settles ----------------------------------------


def stored(db: Session) -> list[StatusReport]:
    return list(db.scalars(select(StatusReport).order_by(StatusReport.round_number)))


def get_stored(db: Session, round_number: int) -> StatusReport:
    campaign = definition.latest(db)
    found = campaign and db.scalar(
        select(StatusReport).where(
            StatusReport.campaign_id == campaign.id, StatusReport.round_number == round_number
        )
    )
    if not found:
        raise NotFound(f"第{round_number}回の状況報告はまだありません。", code="NO_REPORT")
    return found


def due_weekly(db: Session, clock, settings: Settings) -> list[int]:
    """Build the report of every settled round that has none yet, keep it and tell the city's
    contacts (through the outbox). Catch-up and idempotent (one report per round)."""
    campaign = definition.latest(db)
    if campaign is None:
        return []
    done = {
        n
        for (n,) in db.execute(
            select(StatusReport.round_number).where(StatusReport.campaign_id == campaign.id)
        )
    }
    built = []
    for rnd in campaign.rounds:
        if rnd.state != round_wf.S.settled or rnd.number in done:
            continue
        report = build(db, clock, round_number=rnd.number)
        row = StatusReport(
            campaign_id=campaign.id,
            round_number=rnd.number,
            as_of=clock.now(),
            xlsx=xlsx(report),
            pdf=pdf(report),
            mailed_to=0,
        )
        db.add(row)
        db.flush()
        row.mailed_to = _tell_city(db, clock, settings, campaign, report)
        built.append(rnd.number)
        log.info("status report built", extra={"round": rnd.number, "mailed_to": row.mailed_to})
    return built


def _tell_city(db: Session, clock, settings: Settings, campaign: Campaign, report: Report) -> int:
    r = next(x for x in report.figures["rounds"] if x["round"] == report.round_number)
    subject, body = outbox.render(
        "status_report.txt.jinja2",
        title=report.title,
        as_of=report.as_of,
        round=r,
        funds=report.figures["funds"],
        payouts=report.figures["payouts"],
        stores=report.figures["stores"],
        url=settings.public_url.rstrip("/") + "/city/reports",
    )
    sent = 0
    for address in settings.reports.city_contacts:
        sent += outbox.queue(
            db,
            clock,
            ref=f"status-report:{campaign.id}:{report.round_number}",
            to_addr=address,
            subject=subject,
            body=body,
        )
    return sent
