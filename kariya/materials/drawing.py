"""Drawing helpers for the printed pieces: Japanese line breaking, fitting a name to a box,
centred lines, the QR code as vector squares, and a canvas with the document's metadata. The
PDFs embed the IPA fonts installed from Debian's packages (kariya/formats/pdf_fonts.py; nothing
downloaded), so they print the same everywhere and the text is real, searchable text."""

from __future__ import annotations

import io

from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen import canvas

from kariya.formats import pdf_fonts

STICKER = (90 * mm, 90 * mm)
GREEN = colors.HexColor("#06c755")
DARK_GREEN = colors.HexColor("#04893a")

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


def new_canvas(
    buffer: io.BytesIO, pagesize, title: str, author: str, subject: str
) -> canvas.Canvas:
    pdf_fonts.ensure()
    c = canvas.Canvas(buffer, pagesize=pagesize, pageCompression=1)
    c.setTitle(title)
    c.setAuthor(author)
    c.setSubject(subject)
    return c
