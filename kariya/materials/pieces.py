"""The store's printed pieces (S-2, P-5): a QR sticker for the till, an A3 poster and an A4
flyer, each carrying the store's name as text and its own QR code. Their words are the template
templates/print/pieces.toml.jinja2, rendered with the campaign's rules."""

from __future__ import annotations

import functools
import io

from reportlab.lib import colors
from reportlab.lib.pagesizes import A3, A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from kariya.formats.pdf_fonts import GOTHIC
from kariya.materials import texts
from kariya.materials.context import PrintContext
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
from kariya.stores import qr
from kariya.stores.models import Store

TEMPLATE = "pieces.toml.jinja2"
GREY = colors.HexColor("#555555")
DARK_GREY = colors.HexColor("#333333")


@functools.lru_cache(maxsize=8)
def words(ctx: PrintContext) -> dict:
    """The pieces' words for this campaign (the same for every store: rendered once)."""
    return texts.toml(
        TEMPLATE,
        r=ctx.rules,
        callcenter_phone=ctx.callcenter_phone,
        callcenter_hours=ctx.callcenter_hours,
    )


def _canvas(buffer: io.BytesIO, pagesize, store: Store, piece: str, t: dict) -> canvas.Canvas:
    return new_canvas(
        buffer, pagesize, f"{store.name} {t[piece]['title']}", t["author"], t["subject"]
    )


def sticker_pdf(store: Store, url: str, ctx: PrintContext) -> bytes:
    """A 90 × 90 mm sticker for the till: the QR, the store's name, and where the staff find
    the code of the day that the phone shows (the portal: a printed code could not change)."""
    t = words(ctx)
    buffer = io.BytesIO()
    w, h = STICKER
    c = _canvas(buffer, STICKER, store, "sticker", t)
    band = 11 * mm
    c.setFillColor(GREEN)
    c.rect(0, h - band, w, band, stroke=0, fill=1)
    c.setFillColor(colors.white)
    size, lines = fit(t["sticker"]["band"], GOTHIC, 11, 6, w - 8 * mm, 1)
    c.setFont(GOTHIC, size)
    c.drawCentredString(w / 2, h - band / 2 - size * 0.35, lines[0])
    c.setFillColor(colors.black)
    size, lines = fit(store.name, GOTHIC, 11, 6, w - 8 * mm, 2)
    below = draw_lines(c, lines, GOTHIC, size, w / 2, h - band - 2 * mm, leading=1.15)
    qr_size = min(56 * mm, below - 15 * mm)
    draw_qr(c, qr.matrix(url), (w - qr_size) / 2, below - qr_size, qr_size)
    c.setFillColor(DARK_GREY)
    size, lines = fit(t["sticker"]["check"], GOTHIC, 6.5, 5, w - 8 * mm, 2)
    draw_lines(c, lines, GOTHIC, size, w / 2, below - qr_size - 1 * mm, leading=1.2)
    c.setFillColor(colors.black)
    c.setFont(GOTHIC, 8)
    c.drawCentredString(w / 2, 4.5 * mm, t["sticker"]["scan"])
    c.setFont(GOTHIC, 5.5)
    c.setFillColor(GREY)
    c.drawRightString(w - 3 * mm, 1.8 * mm, f"{t['store_code']} {store.code}")
    c.showPage()
    c.save()
    return buffer.getvalue()


def _notice_page(c: canvas.Canvas, store: Store, url: str, t: dict, pagesize) -> None:
    """The poster and the flyer: one layout, drawn at A4 and scaled up for A3."""
    n = t["notice"]
    w, h = pagesize
    s = w / A4[0]  # 1.0 for A4, about 1.414 for A3
    margin = 15 * mm * s
    inner = w - 2 * margin

    band = 36 * mm * s
    c.setFillColor(GREEN)
    c.rect(0, h - band, w, band, stroke=0, fill=1)
    c.setFillColor(colors.white)
    size, lines = fit(n["band_title"], GOTHIC, 34 * s, 16 * s, inner, 1)
    c.setFont(GOTHIC, size)
    c.drawCentredString(w / 2, h - 15 * mm * s, lines[0])
    c.setFont(GOTHIC, 20 * s)
    c.drawCentredString(w / 2, h - 28 * mm * s, n["band_subtitle"])

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
        wrap(n["scan"], GOTHIC, 17 * s, inner),
        GOTHIC,
        17 * s,
        w / 2,
        y,
    )

    c.setFillColor(colors.black)
    size, lines = fit(n["steps"], GOTHIC, 13 * s, 8 * s, inner, 1)
    y = draw_lines(c, lines, GOTHIC, size, w / 2, y - 1 * mm * s)

    # The rules residents must know at the till, every number from the campaign.
    c.setFillColor(colors.black)
    points = n["points"]
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
    c.setFillColor(DARK_GREY)
    size, lines = fit(n["contact"], GOTHIC, 10 * s, 7 * s, inner, 2)
    draw_lines(c, lines, GOTHIC, size, w / 2, 16 * mm * s, leading=1.25)
    c.setFont(GOTHIC, 7 * s)
    c.drawRightString(w - margin, 6 * mm * s, f"{t['store_code']} {store.code}")


def poster_pdf(store: Store, url: str, ctx: PrintContext) -> bytes:
    t = words(ctx)
    buffer = io.BytesIO()
    c = _canvas(buffer, A3, store, "poster", t)
    _notice_page(c, store, url, t, A3)
    c.showPage()
    c.save()
    return buffer.getvalue()


def flyer_pdf(store: Store, url: str, ctx: PrintContext) -> bytes:
    t = words(ctx)
    buffer = io.BytesIO()
    c = _canvas(buffer, A4, store, "flyer", t)
    _notice_page(c, store, url, t, A4)
    c.showPage()
    c.save()
    return buffer.getvalue()
