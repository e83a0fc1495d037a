"""Jinja2 filters and globals: yen, times in the campaign's time zone, labels.

The time filters keep their names (`jst`, `jst_date`, ...) but show a time in the zone of the
request's campaign (request.campaign_rules), Asia/Tokyo before a campaign exists.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from jinja2 import pass_context

from kariya.campaign.rules import zone_of
from kariya.clock import to_jst
from kariya.roles import ROLE_LABELS

WEEKDAYS = "月火水木金土日"


def yen(value) -> str:
    return f"{int(value or 0):,}円"


def _zone(context) -> ZoneInfo:
    request = context.get("request")
    return zone_of(getattr(request, "campaign_rules", None))


def _moment(value: dt.datetime | str) -> dt.datetime:
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


def _date(value: dt.datetime, tz: ZoneInfo) -> str:
    local = to_jst(value, tz)
    return f"{local.month}月{local.day}日({WEEKDAYS[local.weekday()]})"


@pass_context
def jst(context, value: dt.datetime | None) -> str:
    if value is None:
        return ""
    local = to_jst(value, _zone(context))
    return f"{local:%Y年%m月%d日}({WEEKDAYS[local.weekday()]}) {local:%H:%M}"


@pass_context
def jst_date(context, value: dt.datetime | None) -> str:
    if value is None:
        return ""
    return _date(value, _zone(context))


def role_label(role: str) -> str:
    return ROLE_LABELS.get(role, role)


@pass_context
def jst_until(context, value: dt.datetime | str | None) -> str:
    """The last day of a period that ends (exclusive) at `value`: 2024-01-22T00:00 -> 1月21日(日)."""
    if value is None:
        return ""
    return _date(_moment(value) - dt.timedelta(microseconds=1), _zone(context))


@pass_context
def jst_day(context, value: dt.datetime | str | None) -> str:
    if value is None:
        return ""
    return _date(_moment(value), _zone(context))


def ago(value: dt.datetime | None, now: dt.datetime) -> str:
    """How long ago, for a screen: 5分前, 2時間15分前, 3日前."""
    if value is None:
        return ""
    minutes = max(0, int((now - value).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes}分前"
    if minutes < 24 * 60:
        return f"{minutes // 60}時間{minutes % 60}分前"
    return f"{minutes // (24 * 60)}日{minutes % (24 * 60) // 60}時間前"
