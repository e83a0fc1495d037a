"""Every time-driven transition due at the clock's now (`kariya tick`, the beat task).

Written as catch-up: close every round whose end has passed, settle closed rounds in order, open
the round whose period has begun. A missed boundary (worker down) is caught up on the next tick;
a second tick, or two at once, changes nothing (the campaign row is locked for the tick, every
transition is compare-and-set, every ledger entry has a unique ref).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kariya.campaign.models import Campaign, Round
from kariya.coupons import rounds as round_service
from workflows import round as round_wf
from workflows.binding import sources

# Rounds the tick may still move (open, close or settle).
ACTIVE = sources(round_wf.MACHINE, "open", "open_halted", "close", "settle")


def run_due(db: Session, clock, *, actor: str) -> dict[str, list[str]]:
    now = clock.now()
    done: dict[str, list[str]] = {"opened": [], "closed": [], "settled": []}
    campaign_ids = db.scalars(
        select(Round.campaign_id).where(Round.state.in_(ACTIVE), Round.starts <= now).distinct()
    ).all()
    for campaign_id in campaign_ids:
        # One tick at a time per campaign; a concurrent tick waits, then finds nothing to do.
        campaign = db.scalar(
            select(Campaign)
            .where(Campaign.id == campaign_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        for rnd in db.scalars(
            select(Round)
            .where(Round.campaign_id == campaign_id)
            .order_by(Round.number)
            .execution_options(populate_existing=True)
        ):
            label = f"{campaign.name} 第{rnd.number}回"
            if rnd.starts > now:
                break
            if rnd.state == round_wf.S.scheduled:
                # Opened even if its period already ended (missed entirely), then closed below.
                round_service.open_round(db, rnd, campaign, actor=actor, now=now)
                done["opened"].append(label)
            if rnd.ends <= now and rnd.state in sources(round_wf.MACHINE, "close"):
                round_service.close_round(db, rnd, campaign, actor=actor, now=now)
                done["closed"].append(label)
            if rnd.state == round_wf.S.closed:
                round_service.settle_round(db, rnd, campaign, actor=actor, now=now)
                done["settled"].append(label)
    db.flush()
    return done


def next_boundary(db: Session, now: dt.datetime) -> dt.datetime | None:
    """The next instant a round opens or ends after now, or None. The beat runs the tick every
    few seconds; the task also asks for one tick at this very instant, so 20,000 people arriving
    at the opening minute are not told "まもなく" for the rest of a beat interval."""
    opens = db.scalar(
        select(func.min(Round.starts)).where(
            Round.state == round_wf.S.scheduled, Round.starts > now
        )
    )
    ends = db.scalar(
        select(func.min(Round.ends)).where(
            Round.state.in_(sources(round_wf.MACHINE, "close")), Round.ends > now
        )
    )
    return min((t for t in (opens, ends) if t is not None), default=None)
