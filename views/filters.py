"""Jinja2 filters and globals: yen, JST times, labels."""

from __future__ import annotations

import datetime as dt

from kariya.clock import to_jst
from kariya.roles import ROLE_LABELS

WEEKDAYS = "月火水木金土日"


def yen(value) -> str:
    return f"{int(value or 0):,}円"


def jst(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    local = to_jst(value)
    return f"{local:%Y年%m月%d日}({WEEKDAYS[local.weekday()]}) {local:%H:%M}"


def jst_date(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    local = to_jst(value)
    return f"{local.month}月{local.day}日({WEEKDAYS[local.weekday()]})"


def role_label(role: str) -> str:
    return ROLE_LABELS.get(role, role)


def jst_until(value: dt.datetime | str | None) -> str:
    """The last day of a period that ends (exclusive) at `value`: 2024-01-22T00:00 -> 1月21日(日)."""
    if value is None:
        return ""
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return jst_date(moment - dt.timedelta(microseconds=1))


def jst_day(value: dt.datetime | str | None) -> str:
    if value is None:
        return ""
    return jst_date(dt.datetime.fromisoformat(value) if isinstance(value, str) else value)
