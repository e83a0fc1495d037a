"""The store's printed pieces (S-2, P-5): a QR sticker for the till, an A3 poster and an A4
flyer, each carrying the store's name as text and its own QR code."""

from __future__ import annotations

import io

from reportlab.lib import colors
from reportlab.lib.pagesizes import A3, A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from kariya.materials.drawing import (
    DARK_GREEN,
    GREEN,
    STICKER,
    draw_lines,
    draw_qr,
    fit,
    new_canvas,
    wrap,
)
from kariya.materials.rules import Rules, bill_rule, yen
from kariya.models import Store
from kariya.pdf_fonts import GOTHIC
from kariya.stores import qr


def sticker_pdf(store: Store, url: str, r: Rules) -> bytes:
    """A 90 × 90 mm sticker for the till: the QR, the store's name."""
    buffer = io.BytesIO()
    w, h = STICKER
    c = new_canvas(buffer, STICKER, f"{store.name} QRコードステッカー", r)
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
        f"割引券は1枚{yen(r.face)}。このお店で使えるのは、1人あたり{r.per_round}"
        f"{r.store_limit}枚までです。",
        f"{bill_rule(r)}のときに使えます(他の割引を適用した後の金額)。",
        "おつりは出ません。現金との交換、他の人への譲渡はできません。",
        "商品券・たばこ・公共料金など、一部の商品やサービスには使えません。",
        f"割引券は刈谷市公式LINEアカウントのメニューから、各回1人{yen(r.pack)}分"
        f"({yen(r.face)}券×{r.per_pack}枚)を受け取れます。",
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
    c = new_canvas(buffer, A3, f"{store.name} ポスター(A3)", r)
    _notice_page(c, store, url, r, A3)
    c.showPage()
    c.save()
    return buffer.getvalue()


def flyer_pdf(store: Store, url: str, r: Rules) -> bytes:
    buffer = io.BytesIO()
    c = new_canvas(buffer, A4, f"{store.name} チラシ(A4)", r)
    _notice_page(c, store, url, r, A4)
    c.showPage()
    c.save()
    return buffer.getvalue()
