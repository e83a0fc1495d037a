"""Settlement periods (F-3): by default the 1st-15th and the 16th-end of each month, counted in
the campaign's time zone (`tz`; Asia/Tokyo where a caller gives none), so stores are paid at least
twice a month. The cut-off days are configuration (the campaign's `settlement_cutoffs`, e.g. [15]
or [10, 20]); the last day of the month always closes a period."""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

from kariya.clock import JST


@dataclasses.dataclass(frozen=True)
class Period:
    starts: dt.datetime  # aware, inclusive
    ends: dt.datetime  # aware, exclusive
    tz: ZoneInfo = dataclasses.field(default=JST, compare=False)  # where its days are counted

    @property
    def key(self) -> str:
        first = self.starts.astimezone(self.tz).date()
        last = (self.ends.astimezone(self.tz) - dt.timedelta(days=1)).date()
        return f"{first:%Y%m%d}-{last:%Y%m%d}"

    @property
    def label(self) -> str:
        first = self.starts.astimezone(self.tz).date()
        last = (self.ends.astimezone(self.tz) - dt.timedelta(days=1)).date()
        return f"{first.year}年{first.month}月{first.day}日〜{last.month}月{last.day}日"


def period_of(
    moment: dt.datetime, cutoffs: list[int] | tuple[int, ...] = (15,), tz: ZoneInfo = JST
) -> Period:
    """The settlement period containing `moment`."""
    local = moment.astimezone(tz)
    last_day = calendar.monthrange(local.year, local.month)[1]
    bounds = sorted({d for d in cutoffs if 1 <= d < last_day}) + [last_day]
    start_day = 1
    for end_day in bounds:
        if local.day <= end_day:
            break
        start_day = end_day + 1
    starts = dt.datetime(local.year, local.month, start_day, tzinfo=tz)
    ends = dt.datetime(local.year, local.month, end_day, tzinfo=tz) + dt.timedelta(days=1)
    return Period(starts.astimezone(dt.UTC), ends.astimezone(dt.UTC), tz)


def periods_between(
    first: dt.datetime, last: dt.datetime, cutoffs=(15,), tz: ZoneInfo = JST
) -> list[Period]:
    """Every period from the one containing `first` to the one containing `last`."""
    periods, moment = [], first
    while True:
        period = period_of(moment, cutoffs, tz)
        periods.append(period)
        if period.ends > last:
            return periods
        moment = period.ends
