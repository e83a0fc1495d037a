"""A version as people read it: its placeholders filled in with the campaign's facts, as HTML,
as sections (the call-centre manual's canned answers), and searched."""

from __future__ import annotations

import dataclasses
import re

from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from kariya.clock import to_jst
from kariya.documents import diff as diff_
from kariya.documents import kinds, markdown, placeholders, versions
from kariya.documents.models import DocumentVersion
from kariya.errors import NotFound
from workflows import document as document_wf

WEEKDAYS = "月火水木金土日"


def edition(ver: DocumentVersion, facts: placeholders.Facts) -> str:
    """ "第2版(2024年1月20日公開)", or "第3版(案)" for a version not yet published."""
    if ver.published_at is None:
        return f"第{ver.number}版(案)"
    zone = facts.rules.zone if facts.rules is not None else None
    day = to_jst(ver.published_at, zone)
    return f"第{ver.number}版({day.year}年{day.month}月{day.day}日公開)"


def filled(body: str, facts: placeholders.Facts, *, edition_text: str = "") -> str:
    """The Markdown with every placeholder replaced by its value."""
    return placeholders.substitute(body, placeholders.values(facts, edition=edition_text))


@dataclasses.dataclass(frozen=True)
class Reading:
    version: DocumentVersion
    text: str  # the Markdown, filled in
    html: Markup

    @property
    def sections(self) -> list[markdown.Section]:
        return markdown.sections(self.text)


def read(ver: DocumentVersion, facts: placeholders.Facts) -> Reading:
    text = filled(ver.body, facts, edition_text=edition(ver, facts))
    return Reading(ver, text, markdown.html(text))


def preview(body: str, facts: placeholders.Facts) -> Markup:
    """The editor's live preview of a text not saved yet."""
    return markdown.html(filled(markdown.clean(body), facts, edition_text="(案)"))


def published(db: Session, kind: str, facts: placeholders.Facts) -> Reading:
    ver = versions.published(db, kind)
    if ver is None:
        raise NotFound(f"{kinds.get(kind).title}はまだ公開されていません。")
    return read(ver, facts)


def published_json(db: Session, kind: str, facts: placeholders.Facts) -> dict:
    """GET /api/v1/documents/{kind}: the source as approved, and as HTML with the numbers."""
    reading = published(db, kind, facts)
    ver = reading.version
    return {
        "kind": kind,
        "version": ver.number,
        "title": kinds.get(kind).title,
        "body": ver.body,
        "html": str(reading.html),
        "published_at": _at(ver.published_at),
    }


def _at(value) -> str | None:
    """A time as the JSON shows it: ISO 8601 in JST (DESIGN.md section 2)."""
    return to_jst(value).isoformat() if value else None


def version_json(ver: DocumentVersion, kind: str) -> dict:
    """A version as the staff JSON shows it (no rendering)."""
    at = _at
    return {
        "kind": kind,
        "version": ver.number,
        "state": ver.state,
        "state_label": versions.state_label(ver.state),
        "change_note": ver.change_note,
        "created_by": ver.created_by,
        "created_at": at(ver.created_at),
        "updated_by": ver.updated_by,
        "updated_at": at(ver.updated_at),
        "submitted_by": ver.submitted_by,
        "submitted_at": at(ver.submitted_at),
        "decided_by": ver.decided_by,
        "decided_at": at(ver.decided_at),
        "decision_note": ver.decision_note,
        "approved_by": ver.approved_by,
        "approved_at": at(ver.approved_at),
        "published_by": ver.published_by,
        "published_at": at(ver.published_at),
        "superseded_at": at(ver.superseded_at),
    }


def waiting(ver: DocumentVersion, now) -> str:
    """How long a version waited (or has been waiting) for the city: "3日4時間", "25分"."""
    if ver.submitted_at is None:
        return ""
    until = ver.decided_at if ver.state != document_wf.S.submitted and ver.decided_at else now
    minutes = max(0, int((until - ver.submitted_at).total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}日{hours}時間"
    if hours:
        return f"{hours}時間{minutes}分"
    return f"{minutes}分"


# --- the call centre's search -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Hit:
    section: markdown.Section
    heading_html: Markup  # the heading, matches marked
    text_html: Markup  # the text (or the part around the first match), matches marked


def _terms(query: str) -> list[str]:
    return [t for t in markdown.normalized(query).split() if t][:8]


def _mark(text: str, terms: list[str]) -> Markup:
    """`text` escaped, every occurrence of a term wrapped in <mark> (compared folded)."""
    folded = markdown.normalized(text)
    if len(folded) != len(text):  # folding changed the length: compare as written
        folded = text.casefold()
    spans: list[tuple[int, int]] = []
    for term in terms:
        for match in re.finditer(re.escape(term), folded):
            spans.append(match.span())
    spans.sort()
    out, pos = [], 0
    for start, end in spans:
        if start < pos:
            continue
        out.append(escape(text[pos:start]))
        out.append(Markup("<mark>") + escape(text[start:end]) + Markup("</mark>"))
        pos = end
    out.append(escape(text[pos:]))
    return Markup("").join(out)


def search(sections: list[markdown.Section], query: str) -> list[Hit]:
    """Sections whose heading or text holds every word of the query (full-/half-width and case
    folded), headings that match first; matches are marked."""
    terms = _terms(query)
    if not terms:
        return []
    hits = []
    for order, section in enumerate(sections):
        heading = markdown.normalized(section.heading)
        body = markdown.normalized(section.text)
        if all(t in heading or t in body for t in terms):
            in_heading = sum(t in heading for t in terms)
            hits.append((-in_heading, order, section))
    hits.sort(key=lambda h: (h[0], h[1]))
    return [Hit(s, _mark(s.heading, terms), _mark(s.text, terms)) for _, _, s in hits]


def sections_json(sections: list[markdown.Section]) -> list[dict]:
    """The canned answers: every section as {id, anchor, heading, text}."""
    return [
        {"id": s.id, "anchor": s.anchor, "level": s.level, "heading": s.heading, "text": s.text}
        for s in sections
    ]


# --- a version under review -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Review:
    """One version with what a reviewer needs: its text as read, what it changes against the
    version it would replace (or replaced), and its recorded history."""

    kind: kinds.Kind
    reading: Reading
    base: DocumentVersion | None  # what the diff compares with
    diff: diff_.Diff
    history: list[DocumentVersion]
    events: dict[int, list]
    waiting: str

    @property
    def version(self) -> DocumentVersion:
        return self.reading.version


def review(db: Session, kind: str, number: int | str, facts: placeholders.Facts, now) -> Review:
    ver = versions.version(db, kind, number)
    base = versions.base_of(db, ver)
    every = versions.history(db, kind)
    return Review(
        kind=kinds.get(kind),
        reading=read(ver, facts),
        base=base,
        diff=diff_.compare(base.body if base is not None else "", ver.body),
        history=every,
        events=versions.events_of(db, every),
        waiting=waiting(ver, now),
    )


def awaiting_review(db: Session, now) -> list[dict]:
    """The city's "awaiting your approval" list, the longest waiting first."""
    return [
        {
            "kind": doc.kind,
            "title": doc.title,
            "number": ver.number,
            "change_note": ver.change_note,
            "submitted_by": ver.submitted_by,
            "submitted_at": ver.submitted_at,
            "waiting": waiting(ver, now),
        }
        for doc, ver in versions.awaiting(db)
    ]
