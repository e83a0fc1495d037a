"""Canned answers (Q-3): the sections of the published call-centre answer manual, which agents
insert into a note, and the passage that explains an entry of a resident's timeline.

The manual itself is the documents domain's (kariya.documents: the `callcenter_manual`
document, approved by the city before use): `published_manual` reads its published version as
agents read it beside the console (the campaign's numbers filled in) and splits it into its
sections, one per heading (kariya.documents.markdown.Section: `id`, `level`, `heading`, `text`).
A note records the manual version it quoted, so when a newer version is published the note is
marked as quoting an older one (`outdated`).
"""

from __future__ import annotations

import dataclasses

from markupsafe import Markup
from sqlalchemy.orm import Session

from kariya.documents import kinds, reading, versions
from kariya.documents.markdown import Section
from kariya.documents.models import DocumentVersion
from kariya.documents.placeholders import Facts
from kariya.errors import NotFound
from workflows import document as document_wf

# The words a manual section's heading carries for each topic of the timeline and the categories,
# the likeliest first.
TOPIC_WORDS = {
    "acquisition": ("受け取", "取得", "配布"),
    "use": ("使い方", "利用", "使う"),
    "expiry": ("期限", "繰越", "繰り越", "失効"),
    "void": ("取消", "取り消"),
    "payment": ("お支払", "精算", "振込"),
    "store": ("登録店", "店舗"),
    "line": ("LINE", "ログイン"),
    "transfer": ("紛失", "なくした", "機種", "移行"),
    "complaint": ("苦情", "トラブル", "報告"),
    "withdrawal": ("退会",),
}

# The versions a note may quote: the one in use, or one it replaced (never a draft).
QUOTABLE = (document_wf.S.published, document_wf.S.superseded)


@dataclasses.dataclass(frozen=True)
class Manual:
    version: int
    sections: tuple[Section, ...]  # the sections with a text: the canned answers
    html: Markup = Markup("")  # the whole manual as read


def _manual(ver: DocumentVersion, facts: Facts) -> Manual:
    read = reading.read(ver, facts)
    return Manual(ver.number, tuple(s for s in read.sections if s.text.strip()), read.html)


def published_manual(db: Session, facts: Facts) -> Manual | None:
    """The published call-centre answer manual filled in with `facts` (the request's
    `document_facts`), or None while there is none."""
    ver = versions.published(db, kinds.CALLCENTER_MANUAL)
    return None if ver is None else _manual(ver, facts)


def _quotable(db: Session, number) -> DocumentVersion | None:
    if number in (None, ""):
        return versions.published(db, kinds.CALLCENTER_MANUAL)
    try:
        ver = versions.version(db, kinds.CALLCENTER_MANUAL, number)
    except NotFound:
        return None
    return ver if ver.state in QUOTABLE else None


def find(db: Session, facts: Facts, key: str, version=None) -> tuple[Section, int] | None:
    """A section by its id (`sec-12`) in the version the agent's screen showed (`version`, a
    published or superseded one; by default the one published now), with that version's
    number: a note quoting a version that was replaced meanwhile is marked at once."""
    if not key:
        return None
    ver = _quotable(db, version)
    if ver is None:
        return None
    for section in _manual(ver, facts).sections:
        if section.id == key:
            return section, ver.number
    return None


def passage(manual: Manual | None, topic: str) -> Section | None:
    """The section that explains `topic`: the first whose heading carries its first word, else
    its second word, and so on (so "使い方" finds 使い方 before 利用規約 matches "利用")."""
    if manual is None:
        return None
    for word in TOPIC_WORDS.get(topic, ()):
        for section in manual.sections:
            if word in section.heading:
                return section
    return None


def insert_into(note: str, section: Section) -> str:
    """The note with the section's text appended, as the agent reads it to the caller (once:
    the console's script may have inserted it already; a browser sends a textarea's line
    breaks as CR LF)."""
    note = note.replace("\r\n", "\n")
    quoted = quote(section)
    if quoted in note:
        return note
    return f"{note.rstrip()}\n\n{quoted}" if note.strip() else quoted


def quote(section: Section) -> str:
    """A section as a note quotes it (the console's script inserts the same text)."""
    return f"【{section.heading}】\n{section.text.strip()}"


def outdated(quoted_version: int | None, manual: Manual | None) -> bool:
    """Whether a note quotes a version older than the one published now."""
    return quoted_version is not None and manual is not None and quoted_version < manual.version
