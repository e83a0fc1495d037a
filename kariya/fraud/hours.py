"""Reading a store's opening hours (営業時間, free text from the city's store list) into the
minutes of the week it is open, for the off-hours rule.

Understood: time ranges ("10:00〜19:00", "9時〜18時", several separated by anything, overnight
as "17:00〜翌2:00" or "17:00〜26:00"), "24時間", and closing days ("水曜定休", "定休日: 水・日",
"月曜休み"). Ranges given for some days only ("平日 9:00〜18:00 土日 10:00〜17:00") are taken
together for every day, so a use is outside only when it is outside every range: lenient, never
a false alarm from a text read too strictly. Text without a time range is not understood (None):
that store is not checked, and the rule says how many were left out.
"""

from __future__ import annotations

import re
import unicodedata

DAY = 1440
WEEK = 7 * DAY
WEEKDAYS = "月火水木金土日"  # Monday = 0, as PostgreSQL's isodow - 1

_TIME = r"(\d{1,2})(?::(\d{2})|時(?:(\d{1,2})分)?)"
_RANGE = re.compile(_TIME + r"\s*[〜~\-ー−]\s*(翌)?\s*" + _TIME)
_DAYS = r"([月火水木金土日](?:\s*[・、,/]?\s*[月火水木金土日])*)"
_CLOSED = (
    re.compile(
        r"(?<!祝)" + _DAYS + r"\s*(?:曜日?)?\s*(?:[・、]?祝日?)?\s*(?:は)?\s*(?:定休|休み|休業|休)"
    ),
    re.compile(r"定休日?\s*[::は]?\s*(?:毎週)?\s*" + _DAYS),
)


def _minutes(hour: str, minute: str | None, minute_jp: str | None) -> int:
    return int(hour) * 60 + int(minute or minute_jp or 0)


def open_minutes(hours: str) -> list[tuple[int, int]] | None:
    """The store's open intervals as (from, to) minutes of the week (Monday 0:00 = 0), or None
    where the text says no time range; [] never. "24時間" is open all week."""
    text = unicodedata.normalize("NFKC", hours or "")
    if "24時間" in text:
        return [(0, WEEK)]
    ranges = []
    for m in _RANGE.finditer(text):
        start = _minutes(m.group(1), m.group(2), m.group(3))
        end = _minutes(m.group(5), m.group(6), m.group(7))
        if start >= DAY or end > 2 * DAY:
            continue
        if m.group(4) or end <= start:
            end += DAY if end < DAY else 0
        if end <= start:
            continue
        ranges.append((start, end))
    if not ranges:
        return None
    closed = {
        WEEKDAYS.index(ch)
        for pattern in _CLOSED
        for found in pattern.finditer(text)
        for ch in found.group(1)
        if ch in WEEKDAYS
    }
    days = [d for d in range(7) if d not in closed]
    if not days:
        return None
    return _wrap([(d * DAY + s, d * DAY + e) for d in days for s, e in ranges])


def _wrap(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Intervals within [0, WEEK): one running past Sunday night continues on Monday morning."""
    out = []
    for lo, hi in intervals:
        if lo < 0:
            out += [(lo + WEEK, WEEK), (0, hi)]
        elif hi > WEEK:
            out += [(lo, WEEK), (0, hi - WEEK)]
        else:
            out.append((lo, hi))
    return out


def with_grace(intervals: list[tuple[int, int]], minutes: int) -> list[tuple[int, int]]:
    """Each interval widened by `minutes` on both sides (a till closed a little late)."""
    return _wrap([(lo - minutes, hi + minutes) for lo, hi in intervals])


def minute_of_week(weekday: int, hour: int, minute: int) -> int:
    return weekday * DAY + hour * 60 + minute


def is_open(intervals: list[tuple[int, int]], minute: int) -> bool:
    return any(lo <= minute <= hi for lo, hi in intervals)
