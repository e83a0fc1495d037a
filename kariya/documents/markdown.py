"""The documents' Markdown (CommonMark with pipe tables), rendered with markdown-it-py.

What a version's body may hold is checked before anything is saved (`problems`): no raw HTML,
links only to http(s), mailto or a path of this site, no images, a sane length. Rendering has
raw HTML off and markdown-it's own link check on top, so even an unchecked text cannot put
markup or a script into a page. A soft line break joins Japanese lines without a space, as the
printed manual does. Headings get ids (`sec-1`, `sec-2`, ...) so that a section can be linked
to and inserted as a canned answer (`sections`).
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from urllib.parse import unquote

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

MAX_CHARS = 50_000  # a body's length (the longest shipped text is under a tenth of it)
SCHEMES = ("http", "https", "mailto")

_SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):")
_INVISIBLE = re.compile(r"[\s\x00-\x1f\x7f]+")
_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|~])")


def _inspector() -> MarkdownIt:
    """A parser that sees everything the text tries (raw HTML, every link), to refuse it."""
    md = MarkdownIt("commonmark", {"html": True}).enable("table")
    md.validateLink = lambda url: True
    return md


def _renderer() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    default_validate = md.validateLink
    md.validateLink = lambda url: default_validate(url) and link_allowed(url)
    md.add_render_rule("softbreak", _softbreak)
    return md


def link_allowed(url: str) -> bool:
    """http(s) and mailto links, and links without a scheme (a path here, an anchor)."""
    plain = _INVISIBLE.sub("", unquote(url)).lower()
    scheme = _SCHEME.match(plain)
    return scheme is None or scheme.group(1) in SCHEMES


def _softbreak(self, tokens: list[Token], idx: int, options, env) -> str:
    """A line break inside a paragraph: nothing between Japanese text, a space between words."""
    before = tokens[idx - 1].content[-1:] if idx > 0 else ""
    after = tokens[idx + 1].content[:1] if idx + 1 < len(tokens) else ""
    return " " if before.isascii() and after.isascii() and before and after else ""


_INSPECT = _inspector()
_RENDER = _renderer()


def clean(body: str) -> str:
    """The text as stored: Unix line ends, no NUL, no trailing blank lines."""
    return (body or "").replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").rstrip()


def problems(body: str) -> list[str]:
    """What is wrong with a body, in Japanese, for the person who wrote it (empty: fine)."""
    if not body.strip():
        return ["本文を入力してください。"]
    if len(body) > MAX_CHARS:
        return [f"本文は{MAX_CHARS:,}文字以内にしてください(現在{len(body):,}文字)。"]
    found: list[str] = []

    def add(message: str) -> None:
        if message not in found:
            found.append(message)

    for token in _INSPECT.parse(body):
        if token.type == "html_block":
            add("HTMLのタグは使えません。Markdownの記法で書いてください。")
        for child in token.children or ():
            if child.type == "html_inline":
                add("HTMLのタグは使えません。Markdownの記法で書いてください。")
            elif child.type == "image":
                add("画像は使えません。")
            elif child.type == "link_open" and not link_allowed(str(child.attrs.get("href", ""))):
                add(
                    "リンク先に使えるのは http:// ・ https:// ・ mailto: と、このサイト内の"
                    f"ページだけです(「{str(child.attrs.get('href', ''))[:40]}」は使えません)。"
                )
    return found


def escape(value) -> str:
    """A value put into Markdown, printed as written (never read as markup)."""
    return _SPECIAL.sub(r"\\\1", str(value)).replace("\n", " ")


def _with_heading_ids(tokens: list[Token]) -> list[Token]:
    n = 0
    for token in tokens:
        if token.type == "heading_open":
            n += 1
            token.attrSet("id", f"sec-{n}")
    return tokens


def html(body: str) -> Markup:
    """The body as HTML (raw HTML escaped, unsafe links left as text)."""
    tokens = _with_heading_ids(_RENDER.parse(body))
    return Markup(_RENDER.renderer.render(tokens, _RENDER.options, {}))


# --- plain text and sections ------------------------------------------------------------------


def _inline_text(token: Token) -> str:
    parts = []
    children = token.children or []
    for i, child in enumerate(children):
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type == "softbreak":
            before = children[i - 1].content[-1:] if i else ""
            after = children[i + 1].content[:1] if i + 1 < len(children) else ""
            if before.isascii() and after.isascii() and before and after:
                parts.append(" ")
        elif child.type == "hardbreak":
            parts.append("\n")
    return "".join(parts)


@dataclasses.dataclass(frozen=True)
class Section:
    """A heading and the text under it (up to the next heading), as plain text."""

    id: str  # the heading's id in the rendered HTML
    level: int
    heading: str
    text: str

    @property
    def anchor(self) -> str:
        return "#" + self.id


def _block_lines(tokens: list[Token]) -> list[str]:
    """The plain text of a run of blocks, a line per paragraph, list item or table row."""
    lines: list[str] = []
    prefix: list[str] = []
    row: list[str] | None = None
    for token in tokens:
        if token.type in ("bullet_list_open", "ordered_list_open"):
            prefix.append("・" if token.type == "bullet_list_open" else "")
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            prefix.pop()
        elif token.type == "tr_open":
            row = []
        elif token.type == "tr_close" and row is not None:
            lines.append(" / ".join(row))
            row = None
        elif token.type == "inline":
            text = _inline_text(token)
            if row is not None:
                row.append(text)
            else:
                lead = prefix[-1] if prefix else ""
                lines.append(lead + text if lead else text)
    return [line for line in lines if line.strip()]


def sections(body: str) -> list[Section]:
    """Every heading with its text, in order (a text before the first heading is left out)."""
    tokens = _RENDER.parse(body)
    found: list[Section] = []
    n = 0
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.type != "heading_open":
            i += 1
            continue
        n += 1
        heading = _inline_text(tokens[i + 1])
        end = i + 3
        while end < len(tokens) and tokens[end].type != "heading_open":
            end += 1
        text = "\n".join(_block_lines(tokens[i + 3 : end]))
        found.append(Section(f"sec-{n}", int(token.tag[1]), heading, text))
        i = end
    return found


def plain_title(body: str) -> str:
    """The first heading's text (a version's title as shown in lists)."""
    for section in sections(body):
        return section.heading
    return ""


def normalized(text: str) -> str:
    """Text as compared when searching: full-/half-width and case folded."""
    return unicodedata.normalize("NFKC", text).casefold()
