"""The store manual (S-3): acquisition and use, payment to stores, what a store must and must
not do, and what coupons may not pay for (I-8, from kariya/data/excluded_items.toml).

The words are the published version of the `store_manual` document (kariya.documents: the
secretariat writes it, the city approves it, C-4), its placeholders filled in with the
campaign's rules; this module only sets the page, the styles and the footer. One text for every
store. Any version can be printed (the city reviews a draft's PDF before approving it).
"""

from __future__ import annotations

import io

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas
from reportlab.platypus import SimpleDocTemplate

from kariya.documents import reading
from kariya.documents.models import DocumentVersion
from kariya.errors import Conflict
from kariya.formats import pdf_fonts
from kariya.formats.pdf_fonts import GOTHIC, MINCHO
from kariya.materials import flowables
from kariya.materials.context import PrintContext
from kariya.materials.drawing import DARK_GREEN

MARGIN_X, MARGIN_Y = 25 * mm, 20 * mm
FOOTER_GREY = colors.HexColor("#555555")


def _styles() -> flowables.Styles:
    pdf_fonts.ensure()
    body = ParagraphStyle(
        "body", fontName=MINCHO, fontSize=10.5, leading=17, wordWrap="CJK", spaceAfter=4
    )
    return flowables.Styles(
        title=ParagraphStyle(
            "title", fontName=GOTHIC, fontSize=24, leading=34, alignment=1, wordWrap="CJK"
        ),
        subtitle=ParagraphStyle(
            "subtitle", fontName=GOTHIC, fontSize=13, leading=20, alignment=1, wordWrap="CJK"
        ),
        section=ParagraphStyle(
            "section",
            fontName=GOTHIC,
            fontSize=15,
            leading=22,
            textColor=DARK_GREEN,
            spaceBefore=10,
            spaceAfter=6,
            wordWrap="CJK",
            keepWithNext=1,
        ),
        subsection=ParagraphStyle(
            "subsection",
            fontName=GOTHIC,
            fontSize=11.5,
            leading=18,
            spaceBefore=6 + 2 * mm,
            wordWrap="CJK",
            keepWithNext=1,
        ),
        body=body,
        strong=ParagraphStyle("strong", parent=body, fontName=GOTHIC),
        cell=ParagraphStyle("cell", parent=body, fontSize=9.5, leading=14, spaceAfter=0),
        cellhead=ParagraphStyle(
            "cellhead", parent=body, fontName=GOTHIC, fontSize=9.5, leading=14, spaceAfter=0
        ),
        bullet=ParagraphStyle("bullet", fontName=GOTHIC, fontSize=9.5),
    )


def _version(ctx: PrintContext, version: DocumentVersion | None) -> DocumentVersion:
    found = version if version is not None else ctx.manual
    if found is None:
        raise Conflict(
            "取扱店マニュアルが公開されていないため、掲示物を作成できません。", code="NO_MANUAL"
        )
    return found


def manual_text(ctx: PrintContext, version: DocumentVersion | None = None) -> str:
    """The manual as Markdown, with the campaign's rules in it: the published version, or
    `version`."""
    ver = _version(ctx, version)
    return reading.filled(ver.body, ctx, edition_text=reading.edition(ver, ctx))


def manual_pdf(ctx: PrintContext, version: DocumentVersion | None = None) -> bytes:
    """The store manual as an A4 PDF (its cover says which version, and when published)."""
    width, _ = A4
    document = flowables.render(manual_text(ctx, version), _styles(), width - 2 * MARGIN_X)
    author = f"{ctx.rules.campaign_name} 事務局"

    def footer(c: canvas.Canvas, doc) -> None:
        if doc.page == 1:
            return
        c.saveState()
        c.setFont(GOTHIC, 8)
        c.setFillColor(FOOTER_GREY)
        c.drawString(20 * mm, 10 * mm, document.title)
        c.drawRightString(width - 20 * mm, 10 * mm, f"- {doc.page} -")
        c.restoreState()

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN_X,
        rightMargin=MARGIN_X,
        topMargin=MARGIN_Y,
        bottomMargin=MARGIN_Y,
        title=document.title,
        author=author,
        pageCompression=1,
    )
    doc.build(document.story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
