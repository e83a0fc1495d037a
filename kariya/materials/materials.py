"""Printed materials for stores (S-2, S-3, I-8, P-5): per store a QR sticker, an A3 poster and an
A4 flyer carrying the store's name and its own QR code, and the store manual; one store's set as a
ZIP, every active store's sets as one ZIP on disk (a background job with a progress file).

Every number printed (coupon face, per-store limit, minimum bills, periods) is read from the
campaign; the excluded items come from kariya/data/excluded_items.toml, the call centre from the
settings. The PDFs embed the IPA fonts installed from Debian's packages (kariya/pdf_fonts.py;
nothing downloaded), so they print the same everywhere and the store's name is real, searchable
text. QR codes are drawn as vector squares.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import logging
import os
import re
import secrets
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.pagesizes import A3, A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen import canvas
from reportlab.platypus import (
    KeepTogether,
    ListFlowable,
    ListItem,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kariya import pdf_fonts
from kariya.campaign import definition, excluded_items
from kariya.clock import utcnow
from kariya.errors import Conflict, NotFound
from kariya.models import Campaign, Store
from kariya.payouts import batches, settlement
from kariya.pdf_fonts import GOTHIC, MINCHO
from kariya.settings import PROJECT_ROOT
from kariya.stores import qr

log = logging.getLogger(__name__)

STICKER = (90 * mm, 90 * mm)
GREEN = colors.HexColor("#06c755")
DARK_GREEN = colors.HexColor("#04893a")
WEEKDAYS = "月火水木金土日"

Progress = Callable[[int, int], None]

# --- what the materials say, from the campaign and the settings -----------------------------


@dataclasses.dataclass(frozen=True)
class Rules:
    campaign_name: str
    face: int
    per_pack: int
    pack: int
    store_limit: int
    min_bill_one: int
    min_bill_two: int
    period: str  # "2024年1月15日(月)〜2月25日(日)"
    rounds: list[tuple[int, str, str]]  # (number, first day, last day)
    settlement_periods: list[str]
    settlements_per_month: int
    per_round: str  # "各回(1週間)" when every round is a week, else "各回"
    callcenter_phone: str
    callcenter_hours: str
    public_url: str


def _day(value: dt.datetime, tz: ZoneInfo, year: bool = False) -> str:
    local = value.astimezone(tz)
    text = f"{local.month}月{local.day}日({WEEKDAYS[local.weekday()]})"
    return f"{local.year}年{text}" if year else text


def _last_day(ends: dt.datetime) -> dt.datetime:
    """The last moment of a period that ends (exclusive) at `ends`."""
    return ends - dt.timedelta(microseconds=1)


def _yen(value: int) -> str:
    return f"{value:,}円"


def rules(campaign: Campaign, settings: dict) -> Rules:
    tz = ZoneInfo(campaign.timezone)
    rounds = list(campaign.rounds)
    if not rounds:
        raise Conflict("キャンペーンに回が登録されていないため、掲示物を作成できません。")
    first, last = rounds[0].starts, rounds[-1].ends
    cutoffs = batches.cutoffs_of(settings)  # the same cadence the payout batches follow
    periods = settlement.periods_between(first, _last_day(last), cutoffs)
    settlement_periods = []
    for p in periods:
        since, until = _day(max(p.starts, first), tz), _day(_last_day(min(p.ends, last)), tz)
        settlement_periods.append(
            f"{since}のご利用分" if since == until else f"{since}〜{until}のご利用分"
        )
    # How many periods a whole month has (31 days: every cut-off day counts).
    month_start = dt.datetime(2024, 1, 1, tzinfo=tz)  # any 31-day month
    month_end = dt.datetime(2024, 1, 31, 12, tzinfo=tz)
    per_month = len(settlement.periods_between(month_start, month_end, cutoffs))
    weekly = all(r.ends - r.starts == dt.timedelta(weeks=1) for r in rounds)
    return Rules(
        campaign_name=campaign.name,
        face=campaign.coupon_face,
        per_pack=campaign.coupons_per_pack,
        pack=campaign.pack_amount,
        store_limit=campaign.store_limit_per_round,
        min_bill_one=campaign.min_bill_one,
        min_bill_two=campaign.min_bill_two,
        period=f"{_day(first, tz, year=True)}〜{_day(_last_day(last), tz)}",
        rounds=[
            (r.number, _day(r.starts, tz, year=True), _day(_last_day(r.ends), tz)) for r in rounds
        ],
        settlement_periods=settlement_periods,
        settlements_per_month=per_month,
        per_round="各回(1週間)" if weekly else "各回",
        callcenter_phone=settings["kariya.callcenter.phone"],
        callcenter_hours=settings["kariya.callcenter.hours"],
        public_url=settings["kariya.public_url"],
    )


def current_rules(db: Session, settings: dict) -> Rules:
    campaign = definition.latest(db)
    if campaign is None:
        raise Conflict(
            "キャンペーンが登録されていないため、掲示物を作成できません。", code="NO_CAMPAIGN"
        )
    return rules(campaign, settings)


def bill_rule(r: Rules) -> str:
    text = f"1枚ご利用はお会計{_yen(r.min_bill_one)}以上"
    if r.store_limit >= 2:
        text += f"、2枚同時は{_yen(r.min_bill_two)}以上"
    return text


# --- drawing helpers --------------------------------------------------------------------------

_NO_LINE_START = set("、。,.)」』】〕ー・!?:;%")


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Break Japanese text into lines no wider than `width` (by character; a closing mark never
    starts a line)."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for ch in paragraph:
            if (
                line
                and pdfmetrics.stringWidth(line + ch, font, size) > width
                and ch not in _NO_LINE_START
            ):
                lines.append(line)
                line = ch
            else:
                line += ch
        lines.append(line)
    return lines


def fit(
    text: str, font: str, max_size: float, min_size: float, width: float, max_lines: int
) -> tuple[float, list[str]]:
    """The largest size (down to `min_size`) at which `text` fits in `max_lines` lines; one
    line is preferred while it keeps at least 70% of `max_size` (a name is best read unbroken)."""
    one_line_floor = max(min_size, max_size * 0.7)
    size = max_size
    while size >= one_line_floor:
        if pdfmetrics.stringWidth(text, font, size) <= width:
            return size, [text]
        size *= 0.95
    size = max_size
    while True:
        lines = wrap(text, font, size, width)
        if len(lines) <= max_lines or size <= min_size:
            return size, lines[:max_lines]
        size = max(min_size, size * 0.92)


def draw_lines(
    c: canvas.Canvas,
    lines: list[str],
    font: str,
    size: float,
    x_center: float,
    top: float,
    leading: float = 1.3,
) -> float:
    """Draw centred lines downwards from `top`; returns the y below the last line."""
    c.setFont(font, size)
    y = top
    for line in lines:
        y -= size
        c.drawCentredString(x_center, y, line)
        y -= size * (leading - 1)
    return y


def draw_qr(c: canvas.Canvas, modules: list[list[bool]], x: float, y: float, size: float) -> None:
    """The code as one path of squares (runs of dark modules merged), on white: the quiet zone
    is part of `modules` and so of the `size` × `size` square at (x, y)."""
    n = len(modules)
    step = size / n
    c.saveState()
    c.setFillColor(colors.white)
    c.rect(x, y, size, size, stroke=0, fill=1)
    c.setFillColor(colors.black)
    path = c.beginPath()
    for r, row in enumerate(modules):
        top = y + size - (r + 1) * step
        col = 0
        while col < n:
            if row[col]:
                start = col
                while col < n and row[col]:
                    col += 1
                path.rect(x + start * step, top, (col - start) * step, step)
            else:
                col += 1
    c.drawPath(path, stroke=0, fill=1)
    c.restoreState()


def _canvas(buffer: io.BytesIO, pagesize, title: str, r: Rules) -> canvas.Canvas:
    pdf_fonts.ensure()
    c = canvas.Canvas(buffer, pagesize=pagesize, pageCompression=1)
    c.setTitle(title)
    c.setAuthor(f"{r.campaign_name} 事務局")
    c.setSubject(r.campaign_name)
    return c


# --- the store's pieces -----------------------------------------------------------------------


def sticker_pdf(store: Store, url: str, r: Rules) -> bytes:
    """A 90 × 90 mm sticker for the till: the QR, the store's name."""
    buffer = io.BytesIO()
    w, h = STICKER
    c = _canvas(buffer, STICKER, f"{store.name} QRコードステッカー", r)
    band = 11 * mm
    c.setFillColor(GREEN)
    c.rect(0, h - band, w, band, stroke=0, fill=1)
    c.setFillColor(colors.white)
    size, lines = fit(f"{r.campaign_name} 使えます", GOTHIC, 11, 6, w - 8 * mm, 1)
    c.setFont(GOTHIC, size)
    c.drawCentredString(w / 2, h - band / 2 - size * 0.35, lines[0])
    c.setFillColor(colors.black)
    size, lines = fit(store.name, GOTHIC, 11, 6, w - 8 * mm, 2)
    below = draw_lines(c, lines, GOTHIC, size, w / 2, h - band - 2 * mm, leading=1.15)
    qr_size = min(58 * mm, below - 9 * mm)
    draw_qr(c, qr.matrix(url), (w - qr_size) / 2, below - qr_size, qr_size)
    c.setFont(GOTHIC, 8)
    c.drawCentredString(w / 2, 4.5 * mm, "スマートフォンのカメラで読み取ってください")
    c.setFont(GOTHIC, 5.5)
    c.setFillColor(colors.HexColor("#555555"))
    c.drawRightString(w - 3 * mm, 1.8 * mm, f"店舗コード {store.code}")
    c.showPage()
    c.save()
    return buffer.getvalue()


def _notice_page(c: canvas.Canvas, store: Store, url: str, r: Rules, pagesize) -> None:
    """The poster and the flyer: one layout, drawn at A4 and scaled up for A3."""
    w, h = pagesize
    s = w / A4[0]  # 1.0 for A4, about 1.414 for A3
    margin = 15 * mm * s
    inner = w - 2 * margin

    band = 36 * mm * s
    c.setFillColor(GREEN)
    c.rect(0, h - band, w, band, stroke=0, fill=1)
    c.setFillColor(colors.white)
    size, lines = fit(r.campaign_name, GOTHIC, 34 * s, 16 * s, inner, 1)
    c.setFont(GOTHIC, size)
    c.drawCentredString(w / 2, h - 15 * mm * s, lines[0])
    c.setFont(GOTHIC, 20 * s)
    c.drawCentredString(w / 2, h - 28 * mm * s, "このお店で使えます")

    c.setFillColor(colors.black)
    size, lines = fit(store.name, GOTHIC, 36 * s, 14 * s, inner, 2)
    y = draw_lines(c, lines, GOTHIC, size, w / 2, h - band - 9 * mm * s, leading=1.2)

    qr_size = 100 * mm * s
    y -= 4 * mm * s
    draw_qr(c, qr.matrix(url), (w - qr_size) / 2, y - qr_size, qr_size)
    y -= qr_size + 3 * mm * s
    c.setFillColor(DARK_GREEN)
    y = draw_lines(
        c,
        wrap("スマートフォンのカメラでQRコードを読み取ってください", GOTHIC, 17 * s, inner),
        GOTHIC,
        17 * s,
        w / 2,
        y,
    )

    c.setFillColor(colors.black)
    steps = "①LINEで割引券を受け取る → ②QRコードを読み取る → ③画面をお店の人に見せる"
    size, lines = fit(steps, GOTHIC, 13 * s, 8 * s, inner, 1)
    y = draw_lines(c, lines, GOTHIC, size, w / 2, y - 1 * mm * s)

    # The rules residents must know at the till, every number from the campaign.
    c.setFillColor(colors.black)
    points = [
        f"割引券は1枚{_yen(r.face)}。このお店で使えるのは、1人あたり{r.per_round}"
        f"{r.store_limit}枚までです。",
        f"{bill_rule(r)}のときに使えます(他の割引を適用した後の金額)。",
        "おつりは出ません。現金との交換、他の人への譲渡はできません。",
        "商品券・たばこ・公共料金など、一部の商品やサービスには使えません。",
        f"割引券は刈谷市公式LINEアカウントのメニューから、各回1人{_yen(r.pack)}分"
        f"({_yen(r.face)}券×{r.per_pack}枚)を受け取れます。",
        f"実施期間: {r.period}",
    ]
    body = 11.5 * s
    text_width = inner - 12 * mm * s
    wrapped = [wrap(p, GOTHIC, body, text_width) for p in points]
    box_height = sum(len(lines) for lines in wrapped) * body * 1.45 + 8 * mm * s
    box_top = y - 3 * mm * s
    c.setStrokeColor(GREEN)
    c.setLineWidth(1.5 * s)
    c.roundRect(margin, box_top - box_height, inner, box_height, 4 * mm * s, stroke=1, fill=0)
    y = box_top - 4 * mm * s
    for lines in wrapped:
        for i, line in enumerate(lines):
            y -= body
            c.setFont(GOTHIC, body)
            if i == 0:
                c.drawString(margin + 4 * mm * s, y, "●")
            c.drawString(margin + 9 * mm * s, y, line)
            y -= body * 0.45

    c.setFont(GOTHIC, 10 * s)
    c.setFillColor(colors.HexColor("#333333"))
    contact = f"お問い合わせ: コールセンター {r.callcenter_phone}({r.callcenter_hours})"
    size, lines = fit(contact, GOTHIC, 10 * s, 7 * s, inner, 2)
    draw_lines(c, lines, GOTHIC, size, w / 2, 16 * mm * s, leading=1.25)
    c.setFont(GOTHIC, 7 * s)
    c.drawRightString(w - margin, 6 * mm * s, f"店舗コード {store.code}")


def poster_pdf(store: Store, url: str, r: Rules) -> bytes:
    buffer = io.BytesIO()
    c = _canvas(buffer, A3, f"{store.name} ポスター(A3)", r)
    _notice_page(c, store, url, r, A3)
    c.showPage()
    c.save()
    return buffer.getvalue()


def flyer_pdf(store: Store, url: str, r: Rules) -> bytes:
    buffer = io.BytesIO()
    c = _canvas(buffer, A4, f"{store.name} チラシ(A4)", r)
    _notice_page(c, store, url, r, A4)
    c.showPage()
    c.save()
    return buffer.getvalue()


# --- the store manual (S-3) -------------------------------------------------------------------


def _styles() -> dict[str, ParagraphStyle]:
    pdf_fonts.ensure()
    body = ParagraphStyle(
        "body", fontName=MINCHO, fontSize=10.5, leading=17, wordWrap="CJK", spaceAfter=4
    )
    return {
        "title": ParagraphStyle(
            "title", fontName=GOTHIC, fontSize=24, leading=34, alignment=1, wordWrap="CJK"
        ),
        "subtitle": ParagraphStyle(
            "subtitle", fontName=GOTHIC, fontSize=13, leading=20, alignment=1, wordWrap="CJK"
        ),
        "h1": ParagraphStyle(
            "h1",
            fontName=GOTHIC,
            fontSize=15,
            leading=22,
            textColor=DARK_GREEN,
            spaceBefore=10,
            spaceAfter=6,
            wordWrap="CJK",
        ),
        "h2": ParagraphStyle(
            "h2", fontName=GOTHIC, fontSize=11.5, leading=18, spaceBefore=6, wordWrap="CJK"
        ),
        "body": body,
        "strong": ParagraphStyle("strong", parent=body, fontName=GOTHIC),
        "cell": ParagraphStyle("cell", parent=body, fontSize=9.5, leading=14, spaceAfter=0),
        "cellhead": ParagraphStyle(
            "cellhead", parent=body, fontName=GOTHIC, fontSize=9.5, leading=14, spaceAfter=0
        ),
    }


def _bullets(items: list[str], style: ParagraphStyle, numbered: bool = False) -> ListFlowable:
    return ListFlowable(
        [ListItem(Paragraph(text, style), leftIndent=14) for text in items],
        bulletType="1" if numbered else "bullet",
        start="1" if numbered else "•",
        bulletFontName=GOTHIC,
        bulletFontSize=9.5,
        leftIndent=14,
    )


def _table(rows: list[list[str]], widths: list[float], st: dict) -> Table:
    data = [
        [Paragraph(cell, st["cellhead"] if i == 0 else st["cell"]) for cell in row]
        for i, row in enumerate(rows)
    ]
    table = Table(data, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#999999")),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8f5e9")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def manual_pdf(r: Rules, issued: dt.datetime | None = None) -> bytes:
    """The store manual (S-3): acquisition and use, payment to stores, what a store must and
    must not do, and what coupons may not pay for (I-8). One text for every store, so that the
    city approves one document (C-4)."""
    st = _styles()
    body, strong = st["body"], st["strong"]
    story: list = [
        Spacer(1, 60 * mm),
        Paragraph(r.campaign_name, st["title"]),
        Spacer(1, 6 * mm),
        Paragraph("取扱店マニュアル", st["title"]),
        Spacer(1, 12 * mm),
        Paragraph(f"実施期間 {r.period}", st["subtitle"]),
        Spacer(1, 4 * mm),
    ]
    if issued is not None:
        story.append(
            Paragraph(f"{_day(issued, ZoneInfo('Asia/Tokyo'), year=True)}作成", st["subtitle"])
        )
    story += [
        Spacer(1, 40 * mm),
        Paragraph(
            "このマニュアルは、電子割引券を取り扱う登録店の皆さまに、割引券の受け付け方、"
            "お店へのお支払い、守っていただくことをご説明するものです。"
            "お店のスタッフの皆さまで共有し、お会計の際にご活用ください。",
            body,
        ),
        PageBreak(),
        # 1. The programme.
        Paragraph("1. 事業の概要", st["h1"]),
        Paragraph(
            "刈谷市公式LINEアカウントの友だちになっている方に、市内の中小店舗で使える電子割引券を"
            "配布し、地域のお店を応援する事業です。紙の券やお店の専用端末はありません。"
            "お客様はお店に掲示されたQRコードをご自身のスマートフォンで読み取って割引券を使います。",
            body,
        ),
        _bullets(
            [
                f"実施期間: {r.period}(全{len(r.rounds)}回)",
                f"配布額: 各回1人{_yen(r.pack)}分({_yen(r.face)}券×{r.per_pack}枚)。"
                "受け取りは各回1人1回までです。",
                "各回の割引券は、その回の利用期間中だけ使えます。期間を過ぎた割引券は使えません。",
                "配布額が市の定める予算額に達した回は、その時点で配布を終了します。",
            ],
            body,
        ),
        Spacer(1, 3 * mm),
        _table(
            [["回", "利用期間(割引券を受け取り、使える期間)"]]
            + [[f"第{n}回", f"{first}〜{last}"] for n, first, last in r.rounds],
            [25 * mm, 135 * mm],
            st,
        ),
        # 2. How residents get coupons.
        Paragraph("2. お客様の割引券の受け取り方", st["h1"]),
        _bullets(
            [
                "刈谷市公式LINEアカウントのメニューから割引券のページを開きます。",
                "初めての方は、年代・お住まいの地区などを一度だけ登録します。",
                f"「割引券を受け取る」を押すと、{_yen(r.face)}券が{r.per_pack}枚届きます。"
                "受け取りは各回1回までで、次の回になると、また受け取れます。",
            ],
            body,
            numbered=True,
        ),
        # 3. How coupons are used at the till.
        Paragraph("3. お会計での使い方", st["h1"]),
        _bullets(
            [
                "お客様が、お店に掲示したQRコードをスマートフォンのカメラで読み取ります。",
                "お客様が、使う枚数とお会計の金額を入力します。",
                "お客様が確認画面をスタッフに見せます。店名・割引額・お会計金額をご確認ください。",
                "お客様が「使う」を押すと、完了画面に確認番号が表示されます。"
                "完了画面を必ずご確認ください。",
                "お会計から割引額を差し引き、残りの金額をお支払いいただきます。",
            ],
            body,
            numbered=True,
        ),
        Spacer(1, 2 * mm),
        Paragraph("使えるときの条件", st["h2"]),
        _bullets(
            [
                f"1人のお客様が1つのお店で使えるのは、{r.per_round}{r.store_limit}枚までです。",
                f"{bill_rule(r)}のお会計で使えます。",
                "お会計の金額は、他の割引やクーポンを適用した後の金額です。"
                "他の割引・クーポンとの併用はできます。",
                "割引券で支払えない商品・サービス(6章)は、お会計の金額に含めません。",
            ],
            body,
        ),
        # 4. What the store must do.
        Paragraph("4. お店で必ず行っていただくこと", st["h1"]),
        _bullets(
            [
                "QRコードのポスター・ステッカーを、お客様が読み取りやすい場所(レジの近くなど)に"
                "掲示してください。",
                "お客様が割引券を使うときは、スマートフォンの完了画面を必ず目で確認してください。"
                "正しい画面では、<b>帯の模様が動き続け</b>、<b>時計が秒単位で進んでいます</b>。"
                "画面の写真(スクリーンショット)や録画では、帯が止まっていたり時計が"
                "現在時刻と合わなかったりします。そのような画面では割引しないでください。",
                "完了画面に表示された店名が自店であること、割引額、確認番号をご確認ください。"
                "確認番号はレシートの控えなどにメモしておくと、問い合わせの際に役立ちます。",
                f"お会計の金額が条件({bill_rule(r)})を満たしていることをご確認ください。",
                "不審な利用や、操作の誤りで割引券が使われてしまった場合は、"
                "すぐに事務局(コールセンター)へご連絡ください。",
            ],
            body,
        ),
        # 5. What the store must not do (I-7).
        Paragraph("5. お店でしてはいけないこと", st["h1"]),
        _bullets(
            [
                "割引券の現金への払い戻し・換金、割引券を使ったお会計でのおつりの支払いはできません。",
                "割引券を他の人に譲ったり、売ったり、買い取ったりすることはできません。",
                "6章の商品・サービスの支払いに割引券を使わせないでください。",
                "実際の売買がない利用(架空の利用)や、お客様に代わってスタッフが操作することは"
                "できません。",
                "自店のQRコードをコピーして店外に配布したり、他の店舗で使わせたりしないでください。",
            ],
            body,
        ),
        Paragraph(
            "これらに反する利用が分かった場合、その分はお支払いの対象外となり、"
            "登録の停止・取り消しとなることがあります。",
            strong,
        ),
    ]
    # 6. What coupons may not pay for (I-8), from the one shared list.
    story.append(
        KeepTogether(
            [
                Paragraph("6. 割引券で支払えない商品・サービス", st["h1"]),
                Paragraph(
                    "次の商品・サービスには割引券を使えません。対象の商品と一緒にお会計する場合は、"
                    "これらを除いた金額で条件を判断してください。",
                    body,
                ),
            ]
        )
    )
    story.append(
        _table(
            [["対象外のもの", "例"]]
            + [[item["label"], item["detail"]] for item in excluded_items.ITEMS],
            [60 * mm, 100 * mm],
            st,
        )
    )
    # 7. Payment to stores (P-6, F-1..F-4).
    story += [
        Paragraph("7. お店へのお支払い(精算)", st["h1"]),
        Paragraph(
            "お店からの請求は不要です。QRコードで受け付けた利用データをもとに事務局が集計し、"
            "ご登録の金融機関口座へ振り込みます。",
            body,
        ),
        _bullets(
            [
                f"お支払い額は、お店で使われた割引券の額面の合計(1枚{_yen(r.face)})です。",
                "利用を次の期間ごとに締めて、締めた後にまとめてお振り込みします"
                f"(月{r.settlements_per_month}回)。振込日は事務局からお知らせします。",
                "振込手数料は事務局が負担します。お支払い額から差し引くことはありません。",
                "利用の件数と金額は、登録店ポータルでいつでも確認できます。",
                "振込先口座を変更するときは、事務局へお早めにご連絡ください。",
            ],
            body,
        ),
        Spacer(1, 2 * mm),
        _table(
            [["精算の対象期間"]] + [[p] for p in r.settlement_periods],
            [160 * mm],
            st,
        ),
        # 8. The QR code.
        Paragraph("8. QRコードの管理", st["h1"]),
        _bullets(
            [
                "QRコードはお店ごとに発行した専用のものです。ポスター・チラシ・ステッカーは"
                "登録店ポータルからいつでもダウンロードできます。",
                "汚れ・破損・紛失したとき、または不正に使われた疑いがあるときは、事務局へご連絡"
                "ください。QRコードを再発行すると、以前のQRコードは使えなくなりますので、"
                "新しいポスター・ステッカーに貼り替えてください。",
            ],
            body,
        ),
        # 9. Contact.
        Paragraph("9. お問い合わせ", st["h1"]),
        Paragraph(
            f"{r.campaign_name} コールセンター 電話 {r.callcenter_phone}<br/>"
            f"受付時間 {r.callcenter_hours}",
            strong,
        ),
        Paragraph("実施期間や条件が変更になった場合は、事務局から速やかにお知らせします。", body),
    ]

    def footer(c: canvas.Canvas, doc) -> None:
        if doc.page == 1:
            return
        c.saveState()
        c.setFont(GOTHIC, 8)
        c.setFillColor(colors.HexColor("#555555"))
        c.drawString(20 * mm, 10 * mm, f"{r.campaign_name} 取扱店マニュアル")
        c.drawRightString(A4[0] - 20 * mm, 10 * mm, f"- {doc.page} -")
        c.restoreState()

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=25 * mm,
        rightMargin=25 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
        title=f"{r.campaign_name} 取扱店マニュアル",
        author=f"{r.campaign_name} 事務局",
        pageCompression=1,
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


# --- sets and ZIPs ----------------------------------------------------------------------------

PIECES = ("qr.png", "sticker.pdf", "poster_A3.pdf", "flyer_A4.pdf", "manual.pdf")


def store_files(store: Store, settings: dict, r: Rules, manual: bytes) -> list[tuple[str, bytes]]:
    """One store's set: file name (under a folder named by its code) and content."""
    url = qr.store_url(settings, store)
    prefix = f"{store.code}/{store.code}_"
    return [
        (prefix + "qr.png", qr.png(url)),
        (prefix + "sticker.pdf", sticker_pdf(store, url, r)),
        (prefix + "poster_A3.pdf", poster_pdf(store, url, r)),
        (prefix + "flyer_A4.pdf", flyer_pdf(store, url, r)),
        (prefix + "manual.pdf", manual),
    ]


def _check_printable(store: Store) -> None:
    if store.state != "active":
        raise Conflict(
            f"店舗「{store.name}」は利用可能な状態ではないため、掲示物を作成できません。",
            code="STORE_NOT_ACTIVE",
        )
    if not store.qr_token:
        raise Conflict(f"店舗「{store.name}」のQRコードはまだ発行されていません。", code="NO_QR")


def _write(archive: zipfile.ZipFile, name: str, data: bytes, when: dt.datetime) -> None:
    info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
    # PDFs and PNGs are compressed already; deflate only the text files.
    info.compress_type = (
        zipfile.ZIP_STORED if name.endswith((".pdf", ".png")) else zipfile.ZIP_DEFLATED
    )
    archive.writestr(info, data)


def _jst_now(now: dt.datetime | None) -> dt.datetime:
    return (now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo("Asia/Tokyo"))


def find_store(db: Session, code: str) -> Store:
    store = db.scalar(select(Store).where(Store.code == code))
    if store is None:
        raise NotFound(f"店舗コード {code} の店舗は見つかりません。", code="STORE_NOT_FOUND")
    return store


def zip_name(store: Store) -> str:
    """A download name safe in any header and file system."""
    return "materials_" + re.sub(r"[^A-Za-z0-9_-]", "_", store.code) + ".zip"


def store_zip(db: Session, settings: dict, store: Store, now: dt.datetime | None = None) -> bytes:
    """One store's set of materials as a ZIP."""
    _check_printable(store)
    r = current_rules(db, settings)
    when = _jst_now(now)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in store_files(store, settings, r, manual_pdf(r, when)):
            _write(archive, name, data, when)
    return buffer.getvalue()


def active_stores(db: Session) -> list[Store]:
    return list(
        db.scalars(
            select(Store)
            .where(Store.state == "active", Store.qr_token.is_not(None))
            .order_by(Store.code)
        )
    )


def count_active(db: Session) -> int:
    return db.scalar(
        select(func.count()).where(Store.state == "active", Store.qr_token.is_not(None))
    )


def build_all(
    db: Session,
    settings: dict,
    path: str | os.PathLike,
    progress: Progress | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Every active store's set into one ZIP at `path` (a folder per store code, the manual in
    each, and index.csv listing the stores); calls `progress(done, total)` as it goes. Returns
    the number of stores."""
    r = current_rules(db, settings)
    when = _jst_now(now)
    stores = active_stores(db)
    total = len(stores)
    if progress:
        progress(0, total)
    manual = manual_pdf(r, when)  # the same approved text for every store: built once
    index = io.StringIO()
    writer = csv.writer(index, lineterminator="\r\n")
    writer.writerow(["店舗コード", "店舗名", "業種", "住所", *PIECES])
    with zipfile.ZipFile(path, "w") as archive:
        for done, store in enumerate(stores, start=1):
            files = store_files(store, settings, r, manual)
            for name, data in files:
                _write(archive, name, data, when)
            writer.writerow(
                [store.code, store.name, store.category, store.address]
                + [name.split("/", 1)[1] for name, _ in files]
            )
            if progress:
                progress(done, total)
        # A BOM so that Excel opens the Japanese list correctly.
        _write(archive, "index.csv", ("\ufeff" + index.getvalue()).encode("utf-8"), when)
    return total


# --- the bulk job: a progress file any process can read (web, eager Celery, a worker) ---------

JOB_ID = re.compile(r"^\d{14}-[0-9a-f]{8}$")
KEEP_JOBS = 5  # older jobs and their ZIPs are removed when a new one starts
STALE_AFTER = dt.timedelta(minutes=15)  # an unfinished job silent this long is given up
PROGRESS_EVERY = 0.5  # seconds between progress writes
# Job bookkeeping uses the machine's real time (utcnow), not the campaign clock: staleness is
# about a process that stopped, and a frozen development clock must not keep a job alive.


def materials_dir(settings: dict) -> Path:
    """Where jobs keep their progress and ZIPs (`kariya.materials_dir`, relative to the project
    root unless absolute); the web and the workers must share it."""
    path = Path(settings.get("kariya.materials_dir") or "var/materials")
    if not path.is_absolute():
        path = PROJECT_ROOT / path
    path.mkdir(parents=True, exist_ok=True)
    return path


def _job_path(settings: dict, job_id: str, suffix: str) -> Path:
    if not JOB_ID.match(job_id or ""):
        raise NotFound("指定された作成処理は見つかりません。", code="JOB_NOT_FOUND")
    return materials_dir(settings) / f"{job_id}{suffix}"


def _save(settings: dict, job: dict) -> None:
    """Write atomically: a reader never sees half a file."""
    target = _job_path(settings, job["id"], ".json")
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".job-", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(job, f, ensure_ascii=False)
    os.replace(tmp, target)


def read_job(settings: dict, job_id: str) -> dict:
    path = _job_path(settings, job_id, ".json")
    try:
        job = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise NotFound("指定された作成処理は見つかりません。", code="JOB_NOT_FOUND") from None
    return job


def is_unfinished(job: dict, now: dt.datetime | None = None) -> bool:
    if job.get("state") not in ("queued", "running"):
        return False
    return (now or utcnow()) - dt.datetime.fromisoformat(job["updated_at"]) < STALE_AFTER


def recent_jobs(settings: dict, limit: int = KEEP_JOBS) -> list[dict]:
    """The newest jobs first (job ids begin with their UTC time)."""
    jobs = []
    for path in sorted(materials_dir(settings).glob("*.json"), reverse=True)[:limit]:
        try:
            jobs.append(json.loads(path.read_text("utf-8")))
        except (OSError, ValueError):
            continue
    return jobs


def zip_path(settings: dict, job_id: str) -> Path:
    """The finished ZIP of a job; NotFound until it is done."""
    job = read_job(settings, job_id)
    path = _job_path(settings, job_id, ".zip")
    if job.get("state") != "done" or not path.exists():
        raise NotFound("掲示物のZIPはまだできていません。", code="JOB_NOT_DONE")
    return path


def start_job(db: Session, settings: dict, actor: str) -> dict:
    """Record a queued bulk job (the caller then enqueues `kariya.materials.build_all`);
    refuses while another is under way."""
    now = utcnow()
    current_rules(db, settings)  # no campaign: refuse now, not in the worker
    total = count_active(db)
    if total == 0:
        raise Conflict("利用可能な店舗がないため、掲示物を作成できません。", code="NO_STORES")
    for job in recent_jobs(settings):
        if is_unfinished(job, now):
            raise Conflict(
                "掲示物を作成中です。完了してから、もう一度お試しください。", code="BUILD_RUNNING"
            )
    for old in sorted(materials_dir(settings).glob("*.json"), reverse=True)[KEEP_JOBS - 1 :]:
        for path in (old, old.with_suffix(".zip"), old.with_suffix(".zip.part")):
            path.unlink(missing_ok=True)
    job = {
        "id": f"{now.astimezone(dt.UTC):%Y%m%d%H%M%S}-{secrets.token_hex(4)}",
        "state": "queued",
        "done": 0,
        "total": total,
        "requested_by": actor,
        "requested_at": now.isoformat(),
        "started_at": None,
        "finished_at": None,
        "updated_at": now.isoformat(),
        "size": None,
        "message": None,
    }
    _save(settings, job)
    return job


def run_job(db: Session, clock, settings: dict, job_id: str) -> dict:
    """The body of the bulk task: build every active store's set into the job's ZIP, keeping
    the progress file up to date. Running a finished job again does nothing."""
    job = read_job(settings, job_id)
    final = _job_path(settings, job_id, ".zip")
    if job["state"] == "done" and final.exists():
        return job
    part = _job_path(settings, job_id, ".zip.part")
    started = utcnow()
    job.update(
        state="running", started_at=started.isoformat(), updated_at=started.isoformat(), done=0
    )
    _save(settings, job)
    last = [0.0]

    def progress(done: int, total: int) -> None:
        moment = time.monotonic()
        if done == total or moment - last[0] >= PROGRESS_EVERY:
            last[0] = moment
            job.update(done=done, total=total, updated_at=utcnow().isoformat())
            _save(settings, job)

    try:
        count = build_all(db, settings, part, progress=progress, now=clock.now())
        os.replace(part, final)
    except Exception as exc:
        part.unlink(missing_ok=True)
        message = exc.message if hasattr(exc, "message") else "作成中にエラーが発生しました。"
        job.update(state="failed", message=message, updated_at=utcnow().isoformat())
        _save(settings, job)
        log.exception("materials build failed", extra={"job": job_id})
        raise
    finished = utcnow()
    job.update(
        state="done",
        done=count,
        total=count,
        size=final.stat().st_size,
        finished_at=finished.isoformat(),
        updated_at=finished.isoformat(),
    )
    _save(settings, job)
    log.info("materials built", extra={"job": job_id, "stores": count})
    return job
