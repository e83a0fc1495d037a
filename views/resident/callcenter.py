"""Whether the call centre is open now and when it opens next (Q-2), for the residents' footer
and help page (the same calendar as GET /api/v1/callcenter/hours)."""

from __future__ import annotations

import datetime as dt

from kariya.callcenter.calendar import BusinessCalendar
from kariya.clock import JST

WEEKDAYS = "月火水木金土日"


def _when(value: dt.datetime) -> str:
    local = value.astimezone(JST)
    return f"{local.month}月{local.day}日({WEEKDAYS[local.weekday()]}) {local.hour}:{local:%M}"


def hours_now(request) -> dict:
    settings = request.kariya_settings
    status = BusinessCalendar.of(settings).status(request.clock.now())
    if status["open"]:
        closes = status["closes_at"].astimezone(JST)
        text = f"ただいま受付中です(本日{closes.hour}:{closes:%M}まで)"
    else:
        text = f"ただいま受付時間外です。次の受付は{_when(status['opens_at'])}からです"
    return {
        "open": status["open"],
        "text": text,
        "phone": settings.callcenter.phone,
        "hours": settings.callcenter.hours,
    }
