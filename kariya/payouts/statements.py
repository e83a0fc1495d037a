"""Spreadsheets of the payments: the city's view of a batch, and a store's own statement. Every
text cell (store names, reasons: what people typed) is a string cell, never a formula
(kariya.formats.spreadsheets)."""

from __future__ import annotations

import io
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import select
from sqlalchemy.orm import Session

from kariya.campaign import rules as campaign_rules
from kariya.campaign.models import Campaign, Round
from kariya.clock import JST, to_jst
from kariya.formats import spreadsheets
from kariya.payouts import settlement
from kariya.payouts.models import PayoutAdjustment, PayoutBatch, PayoutItem, PayoutLine
from kariya.redemptions.models import Redemption
from kariya.stores.models import Store
from workflows import payout as payout_wf
from workflows import redemption as redemption_wf
from workflows.binding import label


def _zone(db: Session, batch: PayoutBatch):
    """The batch's campaign's time zone, where the statement's times are shown."""
    return campaign_rules.of(db.get(Campaign, batch.campaign_id)).zone


LINE_STATUS = {state: label(payout_wf.LINE, state) for state in payout_wf.LINE_STATES}


def _save(wb: Workbook) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _header(ws, row: list[str]) -> None:
    spreadsheets.append(ws, row)
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)


def batch_rows(db: Session, batch: PayoutBatch) -> list[tuple[Store, PayoutLine]]:
    return [(db.get(Store, line.store_id), line) for line in batch.lines]


def batch_xlsx(db: Session, batch: PayoutBatch) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = f"支払バッチ{batch.id}"
    spreadsheets.append(
        ws,
        [
            "支払バッチ",
            batch.id,
            "対象期間",
            batch.period_key,
            "状態",
            label(payout_wf.MACHINE, batch.state),
        ],
    )
    _header(
        ws, ["店舗コード", "店舗名", "件数", "金額(円)", "状態", "理由", "振込手数料(事業者負担)"]
    )
    for store, line in batch_rows(db, batch):
        spreadsheets.append(
            ws,
            [
                store.code,
                store.name,
                line.count,
                line.amount,
                LINE_STATUS[line.status],
                line.reason,
                line.fee,
            ],
        )
    return _save(wb)


def line_uses(db: Session, line: PayoutLine) -> list[Redemption]:
    return list(
        db.scalars(
            select(Redemption)
            .join(PayoutItem, PayoutItem.redemption_id == Redemption.id)
            .where(PayoutItem.line_id == line.id)
            .order_by(Redemption.used_at)
        )
    )


def line_adjustments(db: Session, line: PayoutLine) -> list[PayoutAdjustment]:
    return list(
        db.scalars(
            select(PayoutAdjustment)
            .join(PayoutItem, PayoutItem.adjustment_id == PayoutAdjustment.id)
            .where(PayoutItem.line_id == line.id)
            .order_by(PayoutAdjustment.id)
        )
    )


def store_statement_xlsx(db: Session, batch: PayoutBatch, line: PayoutLine) -> bytes:
    store = db.get(Store, line.store_id)
    wb = Workbook()
    ws = wb.active
    ws.title = "支払明細"
    spreadsheets.append(ws, ["支払明細書", store.name, f"店舗コード {store.code}"])
    spreadsheets.append(ws, ["支払バッチ", batch.id, "対象期間", batch.period_key])
    spreadsheets.append(
        ws, ["件数", line.count, "金額(円)", line.amount, "状態", LINE_STATUS[line.status]]
    )
    spreadsheets.append(ws, [campaign_rules.FEE_SENTENCE])
    _header(ws, ["利用日時", "確認番号", "枚数", "割引額(円)", "お会計(円)"])
    zone = _zone(db, batch)
    uses = line_uses(db, line)
    for r in uses:
        spreadsheets.append(
            ws,
            [
                to_jst(r.used_at, zone).strftime("%Y-%m-%d %H:%M:%S"),
                r.confirmation_code,
                r.coupons,
                r.amount,
                r.bill_amount,
            ],
        )
    adjustments = line_adjustments(db, line)
    if adjustments:
        spreadsheets.append(ws, [])
        _header(ws, ["調整番号", "承認日時", "調整額(円)", "理由"])
        for a in adjustments:
            spreadsheets.append(
                ws,
                [
                    a.id,
                    to_jst(a.decided_at, zone).strftime("%Y-%m-%d %H:%M:%S"),
                    a.amount,
                    a.reason,
                ],
            )
    return _save(wb)


def store_statement_pdf(db: Session, batch: PayoutBatch, line: PayoutLine) -> bytes:
    """The same statement as a printable A4 PDF (Japanese text in the embedded IPA Gothic)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    from kariya.formats.pdf_fonts import GOTHIC, ensure

    ensure()
    store = db.get(Store, line.store_id)
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    pdf.setTitle(f"支払明細書 {store.name} バッチ{batch.id}")
    width, height = A4
    y = height - 25 * mm

    def text(value: str, size: int = 10, x: float = 20 * mm) -> None:
        nonlocal y
        if y < 20 * mm:
            pdf.showPage()
            y = height - 20 * mm
        pdf.setFont(GOTHIC, size)
        pdf.drawString(x, y, value)
        y -= size * 0.5 * mm + 3 * mm

    text("支払明細書", 18)
    text(f"{store.name} 様(店舗コード {store.code})", 12)
    text(
        f"支払バッチ No.{batch.id} / 対象期間 {batch.period_key} / 状態 {LINE_STATUS[line.status]}"
    )
    text(f"件数 {line.count}件 / 金額 {line.amount:,}円")
    text(campaign_rules.FEE_SENTENCE)
    y -= 3 * mm
    text("利用日時                確認番号   枚数   割引額     お会計", 10)
    zone = _zone(db, batch)
    uses = line_uses(db, line)
    for r in uses:
        text(
            f"{to_jst(r.used_at, zone):%Y-%m-%d %H:%M}    {r.confirmation_code}     {r.coupons}     {r.amount:>6,}円   {r.bill_amount:>8,}円"
        )
    for a in line_adjustments(db, line):
        text(f"調整 No.{a.id}  {a.amount:+,}円  {a.reason[:40]}")
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def store_totals(db: Session, store_id: int, cutoffs: tuple[int, ...], tz: ZoneInfo = JST) -> dict:
    """The store's confirmed uses summed per round and per settlement period (its portal); the
    periods' days are counted in the campaign's time zone `tz`."""
    rows = db.execute(
        select(Round.number, Redemption.used_at, Redemption.amount)
        .join(Round, Round.id == Redemption.round_id)
        .where(Redemption.store_id == store_id, Redemption.state == redemption_wf.S.confirmed)
    ).all()
    per_round: dict[int, list[int]] = {}
    per_period: dict[str, list] = {}
    for number, used_at, amount in rows:
        per_round.setdefault(number, [0, 0])
        per_round[number][0] += 1
        per_round[number][1] += amount
        period = settlement.period_of(used_at, cutoffs, tz)
        per_period.setdefault(period.key, [period.label, 0, 0])
        per_period[period.key][1] += 1
        per_period[period.key][2] += amount
    return {
        "rounds": [
            {"round": k, "count": v[0], "amount": v[1]} for k, v in sorted(per_round.items())
        ],
        "periods": [
            {"label": v[0], "count": v[1], "amount": v[2]} for _, v in sorted(per_period.items())
        ],
    }
