"""The dashboard's snapshot (C-1): the figures of kariya.reports.figures, kept per campaign with
the time they are "as of", refreshed by the beat every minute, by `kariya tick` and when a
person asks. Pages and the JSON read the snapshot, so showing the dashboard costs one row, and
the redemption and acquisition transactions never touch it."""

from __future__ import annotations

import json
import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from kariya.campaign import definition
from kariya.campaign.models import Campaign
from kariya.clock import utcnow
from kariya.orm import upsertable
from kariya.reports import figures
from kariya.reports.models import DashboardSnapshot

MAX_AGE = 90.0  # seconds: the beat's minute and a margin (max_age_of reads the setting)

# The store table's columns a person may sort by (the page's links), and their direction.
SORTS = {
    "code": False,
    "name": False,
    "category": False,
    "area": False,
    "state": False,
    "uses": True,
    "used_amount": True,
    "paid": True,
    "last_used": True,
}


def refresh(db: Session, clock, campaign: Campaign | None = None) -> dict | None:
    """Compute the latest campaign's figures now and keep them; None without a campaign."""
    campaign = campaign or definition.latest(db)
    if campaign is None:
        return None
    started = time.perf_counter()
    data = figures.compute(db, campaign, clock.now())
    elapsed = int((time.perf_counter() - started) * 1000)
    values = {
        "campaign_id": campaign.id,
        "as_of": clock.now(),
        "figures": json.dumps(data, ensure_ascii=False, separators=(",", ":")),
        "refreshed_at": utcnow(),
        "duration_ms": elapsed,
    }
    statement = upsertable(db, DashboardSnapshot.__table__).values(**values)
    db.execute(
        statement.on_conflict_do_update(
            index_elements=["campaign_id"],
            set_={k: statement.excluded[k] for k in values if k != "campaign_id"},
        )
    )
    return data


def snapshot(db: Session, clock, max_age: float = MAX_AGE) -> dict | None:
    """The latest campaign's figures as last refreshed; computed now if there are none yet or
    if they are older than `max_age` seconds by the clock (the beat has stopped, or a settable
    clock has moved), so a reader never sees figures much older than a minute."""
    campaign = definition.latest(db)
    if campaign is None:
        return None
    row = db.execute(
        select(DashboardSnapshot.as_of, DashboardSnapshot.figures).where(
            DashboardSnapshot.campaign_id == campaign.id
        )
    ).first()
    if row is None or abs((clock.now() - row.as_of).total_seconds()) > max_age:
        return refresh(db, clock, campaign)
    return json.loads(row.figures)


def max_age_of(settings) -> float:
    """How old the snapshot may get before a reader refreshes it: the beat's interval and a
    margin for the beat's own run."""
    return settings.reports.dashboard_refresh_seconds + 30


def api(db: Session, clock, max_age: float = MAX_AGE) -> dict | None:
    data = snapshot(db, clock, max_age)
    return None if data is None else figures.api_json(data)


def sorted_stores(data: dict, sort: str | None, descending: bool | None = None) -> list[dict]:
    """The store table in the order a person asked for (by code where the key is unknown)."""
    key = sort if sort in SORTS else "code"
    reverse = SORTS[key] if descending is None else descending
    rows = data["store_table"]
    if key in ("uses", "used_amount", "paid"):
        return sorted(rows, key=lambda s: (s[key], s["code"]), reverse=reverse)
    return sorted(rows, key=lambda s: (s[key] or "", s["code"]), reverse=reverse)
