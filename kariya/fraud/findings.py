"""What the fraud rules share: the context they read (the campaign, the clock's now, the window
of recent uses), the finding a rule returns, the rule itself, and the words for figures."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from kariya.campaign.models import Campaign, Round
from kariya.thresholds import Fraud
from workflows import redemption as redemption_wf


@dataclasses.dataclass
class Context:
    """What every rule reads: the campaign, the clock's now, the window of recent uses."""

    db: Session
    campaign: Campaign
    now: dt.datetime
    settings: Fraud
    rounds: list[Round]

    @property
    def since(self) -> dt.datetime:
        return self.now - dt.timedelta(days=self.settings.window_days)

    @property
    def zone(self) -> str:
        return self.campaign.timezone

    def local(self, moment: dt.datetime) -> dt.datetime:
        return moment.astimezone(ZoneInfo(self.zone))

    @property
    def recent_rounds(self) -> list[Round]:
        """The rounds that overlap the window and have begun."""
        return [r for r in self.rounds if r.starts < self.now and r.ends > self.since]

    def rows(self, sql: str, **params):
        base = {
            "c": self.campaign.id,
            "now": self.now,
            "since": self.since,
            "tz": self.zone,
            "confirmed": redemption_wf.S.confirmed,
        }
        return self.db.execute(text(sql), {**base, **params}).mappings().all()

    def store_uses(self, store_id: int, *where: str, **params) -> set[int]:
        """The store's confirmed uses of the campaign up to now that match `where`."""
        condition = "".join(f" AND {w}" for w in where)
        return {
            row["id"]
            for row in self.rows(
                "SELECT r.id FROM redemption r JOIN round rd ON rd.id = r.round_id"
                " WHERE rd.campaign_id = :c AND r.store_id = :store AND r.state = :confirmed"
                " AND r.used_at < :now" + condition,
                store=store_id,
                **params,
            )
        }


@dataclasses.dataclass
class Finding:
    subject: str  # "store" or "person"
    subject_id: int
    marks: set[str]
    figures: dict
    uses: set[int] = dataclasses.field(default_factory=set)
    persons: set[int] = dataclasses.field(default_factory=set)
    bank_changes: set[int] = dataclasses.field(default_factory=set)

    def keys(self) -> dict[str, dict]:
        """Every evidence row as key -> its columns."""
        rows = {m: {} for m in self.marks}
        rows.update({f"use:{i}": {"redemption_id": i} for i in self.uses})
        rows.update({f"person:{i}": {"person_id": i} for i in self.persons})
        rows.update({f"bank_change:{i}": {"bank_change_id": i} for i in self.bank_changes})
        return rows


@dataclasses.dataclass(frozen=True)
class Rule:
    code: str
    label: str  # what the screens call it
    subject: str  # "store" or "person"
    explain: str  # what it compares, for the reviewer
    find: Callable[[Context], list[Finding]]
    describe: Callable[[dict], str]  # a case's figures in one Japanese sentence


def yen(amount) -> str:
    return f"{int(round(amount)):,}円"


def jst(value: str) -> str:
    moment = dt.datetime.fromisoformat(value)
    return f"{moment.month}月{moment.day}日 {moment:%H:%M}"


def day_label(value: str) -> str:
    day = dt.date.fromisoformat(value)
    return f"{day.month}月{day.day}日"


def ratio(amount, norm) -> float:
    return round(float(amount) / float(norm), 1) if norm else 0.0
