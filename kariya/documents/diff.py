"""What a version changes against another (the published one, for the city's review), at the
level of characters: Japanese is not written in space-separated words.

The texts are compared line by line first (difflib), then each changed block character by
character; a change broken by one or two unchanged characters is shown as one change, so the
reader sees 「午前9時から午後5時」→「午前10時から午後6時」 rather than confetti. Long unchanged stretches are
folded down to a few lines of context.
"""

from __future__ import annotations

import dataclasses
import difflib

EQUAL, INSERT, DELETE, SKIP = "equal", "insert", "delete", "skip"
GLUE = 2  # unchanged runs this short between two changes join them
CONTEXT = 2  # unchanged lines kept around a change


@dataclasses.dataclass(frozen=True)
class Span:
    kind: str  # equal, insert, delete, or skip (unchanged lines folded away)
    text: str

    @property
    def lines(self) -> int:
        return self.text.count("\n")


@dataclasses.dataclass(frozen=True)
class Diff:
    spans: list[Span]
    inserted: int  # characters
    deleted: int

    @property
    def changed(self) -> bool:
        return bool(self.inserted or self.deleted)


def _characters(old: str, new: str) -> list[tuple[str, str, str]]:
    """(tag, old part, new part) of a changed block, small unchanged gaps glued into the change."""
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    parts = [(tag, old[i1:i2], new[j1:j2]) for tag, i1, i2, j1, j2 in matcher.get_opcodes()]
    glued: list[tuple[str, str, str]] = []
    for n, (tag, a, b) in enumerate(parts):
        inside = 0 < n < len(parts) - 1
        if tag == "equal" and inside and len(a) <= GLUE and "\n" not in a:
            tag = "replace"
        if tag != "equal" and glued and glued[-1][0] != "equal":
            _, pa, pb = glued.pop()
            a, b = pa + a, pb + b
            tag = "replace"
        glued.append((tag, a, b))
    return glued


def _fold(text: str, first: bool, last: bool, mid_line: bool = False) -> list[Span]:
    """An unchanged stretch, with only CONTEXT lines kept next to the changes (`mid_line`: it
    starts with the rest of a changed line, which does not count)."""
    lines = text.splitlines(keepends=True)
    keep_head = 0 if first else CONTEXT + int(mid_line)
    keep_tail = 0 if last else CONTEXT
    if len(lines) <= keep_head + keep_tail + 1:
        return [Span(EQUAL, text)]
    head = "".join(lines[:keep_head])
    middle = "".join(lines[keep_head : len(lines) - keep_tail])
    tail = "".join(lines[len(lines) - keep_tail :])
    return [Span(k, t) for k, t in ((EQUAL, head), (SKIP, middle), (EQUAL, tail)) if t]


def compare(old: str, new: str, *, fold: bool = True) -> Diff:
    """The changes from `old` to `new`."""
    old_lines = old.splitlines(keepends=True)
    new_lines = new.splitlines(keepends=True)
    raw: list[Span] = []
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        a, b = "".join(old_lines[i1:i2]), "".join(new_lines[j1:j2])
        if tag == "equal":
            raw.append(Span(EQUAL, a))
            continue
        for part, pa, pb in _characters(a, b) if tag == "replace" else [(tag, a, b)]:
            if part == "equal":
                raw.append(Span(EQUAL, pa))
                continue
            if pa:
                raw.append(Span(DELETE, pa))
            if pb:
                raw.append(Span(INSERT, pb))
    merged: list[Span] = []
    for span in raw:  # neighbours of one kind become one span
        if merged and merged[-1].kind == span.kind:
            merged[-1] = Span(span.kind, merged[-1].text + span.text)
        else:
            merged.append(span)
    spans: list[Span] = []
    for n, span in enumerate(merged):
        if fold and span.kind == EQUAL:
            mid_line = n > 0 and not merged[n - 1].text.endswith("\n")
            spans += _fold(span.text, first=n == 0, last=n == len(merged) - 1, mid_line=mid_line)
        else:
            spans.append(span)
    return Diff(
        spans=spans,
        inserted=sum(len(s.text) for s in merged if s.kind == INSERT),
        deleted=sum(len(s.text) for s in merged if s.kind == DELETE),
    )
