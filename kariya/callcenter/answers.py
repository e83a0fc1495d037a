"""Canned answers (Q-3): the sections of the published call-centre answer manual, which agents
insert into a note, and the passage that explains an entry of a resident's timeline.

The manual itself is the documents domain's (issue 11: the `callcenter_manual` document, its
published version and its sections). Until that domain is wired in, `published_manual` is the one
insertion point and answers no manual: the console then offers no canned answers and the
timeline no passages. A note records the manual version it quoted, so when a newer version is
published the note is marked as quoting an older one (`outdated`).
"""

from __future__ import annotations

import dataclasses

from sqlalchemy.orm import Session

# The words a manual section's title carries for each topic of the timeline and the categories.
TOPIC_WORDS = {
    "acquisition": ("受け取", "取得", "配布"),
    "use": ("使い方", "利用", "使う"),
    "expiry": ("期限", "繰越", "失効"),
    "void": ("取消", "取り消"),
    "payment": ("支払", "振込"),
    "store": ("登録店", "店舗"),
    "line": ("LINE", "ログイン"),
    "transfer": ("紛失", "機種変更", "移行"),
    "complaint": ("苦情", "トラブル", "報告"),
}


@dataclasses.dataclass(frozen=True)
class Section:
    key: str  # stable within a version, e.g. the heading's slug
    title: str
    body: str


@dataclasses.dataclass(frozen=True)
class Manual:
    version: int
    sections: tuple[Section, ...]


def published_manual(db: Session) -> Manual | None:
    """The published call-centre answer manual, or None while there is none.

    The insertion point for the documents domain (issue 11): it should return the published
    version of the `callcenter_manual` document split into its sections (one per heading)."""
    return None


def sections(db: Session) -> list[Section]:
    manual = published_manual(db)
    return list(manual.sections) if manual else []


def find(db: Session, key: str) -> tuple[Section, int] | None:
    """A section of the published manual by its key, with the manual's version."""
    manual = published_manual(db)
    if manual is None or not key:
        return None
    for section in manual.sections:
        if section.key == key:
            return section, manual.version
    return None


def passage(manual: Manual | None, topic: str) -> Section | None:
    """The section that explains `topic` (the first whose title carries one of its words)."""
    if manual is None:
        return None
    words = TOPIC_WORDS.get(topic, ())
    for section in manual.sections:
        if any(word in section.title for word in words):
            return section
    return None


def insert_into(note: str, section: Section) -> str:
    """The note with the section's text appended, as the agent reads it to the caller (once:
    the console's script may have inserted it already)."""
    quoted = quote(section)
    if quoted in note:
        return note
    return f"{note.rstrip()}\n\n{quoted}" if note.strip() else quoted


def quote(section: Section) -> str:
    return f"【{section.title}】\n{section.body.strip()}"


def outdated(quoted_version: int | None, manual: Manual | None) -> bool:
    """Whether a note quotes a version older than the one published now."""
    return quoted_version is not None and manual is not None and quoted_version < manual.version
