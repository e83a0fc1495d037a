"""The call centre's business calendar (Q-2), in one place.

Open on the weekdays of the settings (Monday to Friday by default) from `opens` to `closes`
(09:00-17:00), Japan time; closed on public holidays (`jpholiday`, substitute holidays included)
and from 29 December to 3 January (`closed_from` .. `closed_until`, both days closed). Every due
time, warning and reminder of the call centre counts business time only: `add` walks the open
hours forward, `subtract` backward, `between` measures them. "N business days" is N times the
open hours of one day, so a ticket resolved on Friday at 15:00 closes two business days later
on Tuesday at 15:00.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from zoneinfo import ZoneInfo

import jpholiday

from kariya.clock import JST
from kariya.settings import Callcenter, Settings

# No calendar can be closed for longer than this (a safeguard against a loop without end).
MAX_DAYS = 3 * 366


def _time(text: str) -> dt.time:
    hours, minutes = text.strip().split(":")
    return dt.time(int(hours), int(minutes))


def _month_day(text: str) -> tuple[int, int]:
    month, day = text.strip().split("-")
    return int(month), int(day)


@dataclasses.dataclass(frozen=True)
class BusinessCalendar:
    opens: dt.time = dt.time(9)
    closes: dt.time = dt.time(17)
    weekdays: frozenset[int] = frozenset({1, 2, 3, 4, 5})  # ISO: 1 = Monday
    closed_from: tuple[int, int] = (12, 29)
    closed_until: tuple[int, int] = (1, 3)
    zone: ZoneInfo = JST

    @classmethod
    def of(cls, settings: Settings | Callcenter) -> BusinessCalendar:
        group = settings.callcenter if isinstance(settings, Settings) else settings
        return _from_group(group)

    # -- days -----------------------------------------------------------------------------------
    @property
    def day_length(self) -> dt.timedelta:
        return dt.datetime.combine(dt.date.min, self.closes) - dt.datetime.combine(
            dt.date.min, self.opens
        )

    def in_year_end(self, day: dt.date) -> bool:
        md = (day.month, day.day)
        if self.closed_from <= self.closed_until:
            return self.closed_from <= md <= self.closed_until
        return md >= self.closed_from or md <= self.closed_until

    def closed_reason(self, day: dt.date) -> str | None:
        """Why the call centre is closed on `day` (Japanese), or None on an open day."""
        if self.in_year_end(day):
            return "年末年始"
        holiday = jpholiday.is_holiday_name(day)
        if holiday:
            return holiday
        if day.isoweekday() not in self.weekdays:
            return "休業日"
        return None

    def is_open_day(self, day: dt.date) -> bool:
        return self.closed_reason(day) is None

    def session(self, day: dt.date) -> tuple[dt.datetime, dt.datetime] | None:
        """The open hours of `day` as aware datetimes, or None on a closed day."""
        if not self.is_open_day(day):
            return None
        return (
            dt.datetime.combine(day, self.opens, tzinfo=self.zone),
            dt.datetime.combine(day, self.closes, tzinfo=self.zone),
        )

    def _local_day(self, at: dt.datetime) -> dt.date:
        return at.astimezone(self.zone).date()

    # -- instants ---------------------------------------------------------------------------------
    def is_open(self, at: dt.datetime) -> bool:
        hours = self.session(self._local_day(at))
        return hours is not None and hours[0] <= at < hours[1]

    def closes_at(self, at: dt.datetime) -> dt.datetime | None:
        """When the current open hours end, or None when closed at `at`."""
        hours = self.session(self._local_day(at))
        if hours is not None and hours[0] <= at < hours[1]:
            return hours[1]
        return None

    def next_opening(self, at: dt.datetime) -> dt.datetime:
        """The first opening after `at` (the next one if open at `at`)."""
        day = self._local_day(at)
        for offset in range(MAX_DAYS):
            hours = self.session(day + dt.timedelta(days=offset))
            if hours is not None and hours[0] > at:
                return hours[0]
        raise ValueError("the call centre never opens")

    def status(self, at: dt.datetime) -> dict:
        """GET /api/v1/callcenter/hours: open now, and if not, when it next opens."""
        closes = self.closes_at(at)
        if closes is not None:
            return {"open": True, "opens_at": None, "closes_at": closes}
        return {"open": False, "opens_at": self.next_opening(at), "closes_at": None}

    # -- business time ----------------------------------------------------------------------------
    def _sessions(self, start: dt.datetime, step: int):
        day = self._local_day(start)
        for offset in range(MAX_DAYS):
            hours = self.session(day + dt.timedelta(days=offset * step))
            if hours is not None:
                yield hours
        raise ValueError("the call centre never opens")

    def add(self, start: dt.datetime, delta: dt.timedelta) -> dt.datetime:
        """The instant `delta` of business time after `start` (time outside the open hours does
        not count; a start outside them begins at the next opening)."""
        if delta < dt.timedelta(0):
            return self.subtract(start, -delta)
        left = delta
        for opens, closes in self._sessions(start, 1):
            begin = max(opens, start)
            if begin >= closes:
                continue
            if left <= closes - begin:
                return begin + left
            left -= closes - begin
        raise AssertionError("unreachable")

    def subtract(self, end: dt.datetime, delta: dt.timedelta) -> dt.datetime:
        """The instant `delta` of business time before `end`."""
        left = delta
        for opens, closes in self._sessions(end, -1):
            finish = min(closes, end)
            if finish <= opens:
                continue
            if left <= finish - opens:
                return finish - left
            left -= finish - opens
        raise AssertionError("unreachable")

    def between(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        """Business time from `start` to `end` (zero if `end` is not after `start`)."""
        total = dt.timedelta(0)
        if end <= start:
            return total
        day = self._local_day(start)
        last = self._local_day(end)
        while day <= last:
            hours = self.session(day)
            if hours is not None:
                begin, finish = max(hours[0], start), min(hours[1], end)
                if finish > begin:
                    total += finish - begin
            day += dt.timedelta(days=1)
        return total

    def add_hours(self, start: dt.datetime, hours: float) -> dt.datetime:
        return self.add(start, dt.timedelta(hours=hours))

    def add_days(self, start: dt.datetime, days: int) -> dt.datetime:
        """`days` business days after `start`: `days` times the open hours of one day."""
        return self.add(start, self.day_length * days)


@functools.cache
def _from_group(group: Callcenter) -> BusinessCalendar:
    return BusinessCalendar(
        opens=_time(group.opens),
        closes=_time(group.closes),
        weekdays=frozenset(group.open_weekdays),
        closed_from=_month_day(group.closed_from),
        closed_until=_month_day(group.closed_until),
    )
