"""The one clock every time rule asks (DESIGN.md section 2).

`system` reads the machine's time. `settable` (development and tests only) adds an offset,
or freezes the time, kept in the database so that the web, the CLI and Celery see the same now.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger
from sqlalchemy.orm import Mapped, Session, mapped_column

from kariya.orm import Base, UTCDateTime
from kariya.settings import Settings, settings_of

# The time zone where a caller has no campaign to ask (the campaign's own zone, Campaign.timezone,
# is used wherever one exists; kariya.campaign.rules.Rules.zone).
JST = ZoneInfo("Asia/Tokyo")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ClockSetting(Base):
    """The settable clock's offset, shared by web, CLI and Celery (development only)."""

    __tablename__ = "clock_setting"

    id: Mapped[int] = mapped_column(primary_key=True)
    offset_us: Mapped[int] = mapped_column(BigInteger, default=0)
    frozen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Clock:
    settable = False

    def now(self) -> dt.datetime:
        return utcnow()


class FixedClock(Clock):
    """A clock that always answers the same time (loading data as of a date, tests)."""

    def __init__(self, now: dt.datetime):
        self._now = now

    def now(self) -> dt.datetime:
        return self._now


class SettableClock(Clock):
    """Reads its offset from the database once, when made (per request, task or command)."""

    settable = True

    def __init__(self, dbsession: Session):
        row = dbsession.get(ClockSetting, 1)
        self.offset = dt.timedelta(microseconds=row.offset_us) if row else dt.timedelta()
        self.frozen_at = row.frozen_at if row else None

    def now(self) -> dt.datetime:
        if self.frozen_at is not None:
            return self.frozen_at
        return utcnow() + self.offset


def set_clock(dbsession: Session, now: dt.datetime, frozen: bool = False) -> None:
    """Make `now` the clock's present for every process (development only)."""
    if now.tzinfo is None:
        raise ValueError("the time must carry its offset")
    row = dbsession.get(ClockSetting, 1)
    if row is None:
        row = ClockSetting(id=1)
        dbsession.add(row)
    real = utcnow()
    row.offset_us = (now - real) // dt.timedelta(microseconds=1)
    row.frozen_at = now.astimezone(dt.UTC) if frozen else None
    row.updated_at = real
    dbsession.flush()


def make_clock(settings: Settings, dbsession: Session) -> Clock:
    if settings.clock_settable:
        return SettableClock(dbsession)
    return Clock()


def to_jst(value: dt.datetime, tz: ZoneInfo | None = None) -> dt.datetime:
    """`value` in the campaign's time zone `tz` (Asia/Tokyo where none is given)."""
    return value.astimezone(tz or JST)


def includeme(config):
    settings = settings_of(config.registry)

    def clock(request) -> Clock:
        # The system clock needs no database: a request that reads the time but no data (the
        # rush's acquisition, answered by the group commit or the sold-out memo) opens no
        # session, which costs more than the rest of such a request (issue 16).
        return SettableClock(request.db) if settings.clock_settable else Clock()

    config.add_request_method(clock, "clock", reify=True)
