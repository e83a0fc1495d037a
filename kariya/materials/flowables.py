"""A small Markdown renderer for printed documents: Markdown (CommonMark with pipe tables, raw
HTML off) into reportlab platypus flowables.

What it understands, and how it lays it out:
- the cover, everything before the first thematic break (`---`): `#` headings are the titles,
  paragraphs the subtitles (centred), a block quote the note at the foot of the cover;
- after the cover: `##` a section heading, `###` a sub-heading (each kept with what follows),
  paragraphs (one that is all **strong** is set in the strong style), bullet and numbered lists,
  pipe tables across the full width (the dashes of the line under the header give the columns'
  relative widths, as in Pandoc), and `---` a page break;
- inline: **strong**, *emphasis*, a hard line break (a backslash at the end of a line); a soft
  line break joins the lines without a space, as Japanese text is written.
"""

from __future__ import annotations

import dataclasses
from xml.sax.saxutils import escape

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode
from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    Flowable,
    ListFlowable,
    ListItem,
    PageBreak,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

_PARSER = MarkdownIt("commonmark", {"html": False}).enable("table")

# The cover: space above the titles, between them, below them, between subtitles, above the note.
COVER_TOP, COVER_TITLE_GAP, COVER_BELOW_TITLES = 60 * mm, 6 * mm, 12 * mm
COVER_SUBTITLE_GAP, COVER_ABOVE_NOTE = 4 * mm, 40 * mm
LIST_INDENT = 14
TABLE_GRID = colors.HexColor("#999999")
TABLE_HEAD = colors.HexColor("#e8f5e9")


@dataclasses.dataclass(frozen=True)
class Styles:
    title: ParagraphStyle
    subtitle: ParagraphStyle
    section: ParagraphStyle
    subsection: ParagraphStyle
    body: ParagraphStyle
    strong: ParagraphStyle
    cell: ParagraphStyle
    cellhead: ParagraphStyle
    bullet: ParagraphStyle  # the font and size of list bullets and numbers


@dataclasses.dataclass(frozen=True)
class Document:
    title: str  # the cover's titles, one line
    story: list[Flowable]


def _inline(node: SyntaxTreeNode) -> str:
    """An inline run as reportlab's paragraph markup."""
    parts = []
    for child in node.children:
        kind = child.type
        if kind in ("text", "code_inline"):
            parts.append(escape(child.content))
        elif kind == "softbreak":
            continue  # Japanese lines join without a space
        elif kind == "hardbreak":
            parts.append("<br/>")
        elif kind == "strong":
            parts.append(f"<b>{_inline(child)}</b>")
        elif kind == "em":
            parts.append(f"<i>{_inline(child)}</i>")
        else:  # links, images: their text
            parts.append(_inline(child))
    return "".join(parts)


def _plain(node: SyntaxTreeNode) -> str:
    """An inline run as plain text (a document's title)."""
    if node.type in ("text", "code_inline"):
        return node.content
    return "".join(_plain(child) for child in node.children)


def _text(node: SyntaxTreeNode) -> str:
    """The inline markup of a block (a paragraph, a heading, a list item, a cell)."""
    if node.type == "inline":
        return _inline(node)
    return "<br/>".join(_text(child) for child in node.children)


def _all_strong(paragraph: SyntaxTreeNode) -> SyntaxTreeNode | None:
    (inline,) = paragraph.children
    runs = [c for c in inline.children if not (c.type == "text" and not c.content)]
    if len(runs) == 1 and runs[0].type == "strong":
        return runs[0]
    return None


def _paragraph(node: SyntaxTreeNode, st: Styles) -> Paragraph:
    strong = _all_strong(node)
    if strong is not None:
        return Paragraph(_inline(strong), st.strong)
    return Paragraph(_text(node), st.body)


def _list(node: SyntaxTreeNode, st: Styles) -> ListFlowable:
    numbered = node.type == "ordered_list"
    return ListFlowable(
        [
            ListItem(Paragraph(_text(item), st.body), leftIndent=LIST_INDENT)
            for item in node.children
        ],
        bulletType="1" if numbered else "bullet",
        start=str(node.attrs.get("start", 1)) if numbered else "•",
        bulletFontName=st.bullet.fontName,
        bulletFontSize=st.bullet.fontSize,
        leftIndent=LIST_INDENT,
    )


def _column_weights(lines: list[str], node: SyntaxTreeNode, columns: int) -> list[int]:
    """The dashes of each column in the line under the header."""
    delimiter = lines[node.map[0] + 1].strip().strip("|")
    weights = [max(1, cell.count("-")) for cell in delimiter.split("|")]
    return weights if len(weights) == columns else [1] * columns


def _table(node: SyntaxTreeNode, st: Styles, lines: list[str], width: float) -> Table:
    rows = [row for part in node.children for row in part.children]  # thead, tbody -> tr
    data = [
        [Paragraph(_text(cell), st.cellhead if i == 0 else st.cell) for cell in row.children]
        for i, row in enumerate(rows)
    ]
    weights = _column_weights(lines, node, len(data[0]))
    table = Table(
        data,
        colWidths=[width * w / sum(weights) for w in weights],
        repeatRows=1,
        spaceBefore=2 * mm,
    )
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, TABLE_GRID),
                ("BACKGROUND", (0, 0), (-1, 0), TABLE_HEAD),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def _cover(nodes: list[SyntaxTreeNode], st: Styles) -> tuple[list[str], list[Flowable]]:
    headings = [n.children[0] for n in nodes if n.type == "heading"]
    story: list[Flowable] = [Spacer(1, COVER_TOP)]
    for i, heading in enumerate(headings):
        if i:
            story.append(Spacer(1, COVER_TITLE_GAP))
        story.append(Paragraph(_text(heading), st.title))
    story.append(Spacer(1, COVER_BELOW_TITLES))
    for node in nodes:
        if node.type == "paragraph":
            story += [Paragraph(_text(node), st.subtitle), Spacer(1, COVER_SUBTITLE_GAP)]
    for node in nodes:
        if node.type == "blockquote":
            story.append(Spacer(1, COVER_ABOVE_NOTE))
            story += [_paragraph(p, st) for p in node.children if p.type == "paragraph"]
    story.append(PageBreak())
    return [_plain(h) for h in headings], story


def render(text: str, st: Styles, width: float) -> Document:
    """`text` (Markdown) as flowables for a frame `width` points wide."""
    lines = text.splitlines()
    blocks = SyntaxTreeNode(_PARSER.parse(text)).children
    cover_end = next((i for i, n in enumerate(blocks) if n.type == "hr"), None)
    titles: list[str] = []
    story: list[Flowable] = []
    if cover_end is not None:
        titles, story = _cover(blocks[:cover_end], st)
        blocks = blocks[cover_end + 1 :]
    for node in blocks:
        if node.type == "heading":
            style = st.section if node.tag in ("h1", "h2") else st.subsection
            story.append(Paragraph(_text(node.children[0]), style))
        elif node.type == "paragraph":
            story.append(_paragraph(node, st))
        elif node.type in ("bullet_list", "ordered_list"):
            story.append(_list(node, st))
        elif node.type == "table":
            story.append(_table(node, st, lines, width))
        elif node.type == "blockquote":
            story += [_paragraph(p, st) for p in node.children if p.type == "paragraph"]
        elif node.type == "hr":
            story.append(PageBreak())
    return Document(title=" ".join(titles), story=story)
