"""The reports' files (C-3): a report (its tables, its figures for the charts, its words) as
an .xlsx workbook (every table, typed text never a formula) and as a printable A4 PDF (the same
tables, the stores with the most use, and the charts drawn by kariya.reports.charts in the
PDFs' Japanese font, kariya.formats.pdf_fonts)."""

from __future__ import annotations

import dataclasses
import io
from xml.sax.saxutils import escape

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

from kariya.errors import Invalid
from kariya.formats import pdf_fonts, spreadsheets
from kariya.reports import charts

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


# --- the workbook -------------------------------------------------------------------------------


def xlsx(report: Report) -> bytes:
    wb = Workbook()
    first = wb.active
    first.title = "概要"
    spreadsheets.append(first, [report.title])
    first["A1"].font = Font(bold=True, size=14)
    spreadsheets.append(first, [report.as_of])
    spreadsheets.append(first, [report.intro])
    for i, table in enumerate(report.tables):
        if i < 7:  # the short tables on the first sheet, one after another
            ws, gap = first, True
        else:
            ws, gap = wb.create_sheet(table.title[:31]), False
        if gap:
            ws.append([])
        spreadsheets.append(ws, [table.title])
        ws.cell(ws.max_row, 1).font = Font(bold=True, size=12)
        spreadsheets.append(ws, table.headers)
        for cell in ws[ws.max_row]:
            cell.font = Font(bold=True)
        for row in table.rows:
            # The one cell rule: text is a string cell (and defused, as the exports are).
            spreadsheets.append(
                ws, [spreadsheets.defuse(v) if isinstance(v, str) else v for v in row]
            )
            for cell in ws[ws.max_row]:
                if isinstance(cell.value, int):
                    cell.number_format = "#,##0"
        if table.note:
            spreadsheets.append(ws, [table.note])
    ws = wb.create_sheet(report.words["sections"]["callcenter"])
    if report.callcenter:
        for row in report.callcenter:
            spreadsheets.append(ws, row)
    else:
        spreadsheets.append(ws, [report.words["notes"]["callcenter_none"]])
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
