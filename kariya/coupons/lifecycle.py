"""Using and voiding coupons, with their money: outstanding -> used, and back on a void.

The store-facing rules (bill thresholds, per-store limit, the void window) belong to redemptions;
this module is the coupon side they stand on: a compare-and-set on the coupons' state (fewer rows
moved than asked means someone else took them: refuse, nothing written) and one ledger entry.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from kariya.campaign.models import Campaign, Round
from kariya.coupons.models import Coupon
from kariya.errors import Conflict, DomainError
from kariya.ledger import postings
from workflows import coupon as coupon_wf
from workflows import round as round_wf
from workflows.binding import fire_bulk, sources

# Coupons are usable while their round runs: until it closes.
USABLE_ROUND_STATES = sources(round_wf.MACHINE, "close")


class NoCoupons(DomainError):
    code = "NO_COUPONS"
    status = 422
    message = "使える割引券が足りません。"


class OutsidePeriod(DomainError):
    code = "OUTSIDE_PERIOD"
    status = 422
    message = "割引券の利用期間外です。"


def _usable_round(rnd: Round, now) -> None:
    if rnd.state not in USABLE_ROUND_STATES or not (rnd.starts <= now < rnd.ends):
        raise OutsidePeriod()


def use(
    db: Session,
    clock,
    *,
    person_id: int,
    rnd: Round,
    count: int,
    ref: str,
    actor: str,
    redemption_id: int | None = None,
) -> list[int]:
    """Use `count` of the person's unused coupons of round `rnd` (for the use `redemption_id`):
    one UPDATE moves them, stamps when and for which use; returns their ids."""
    now = clock.now()
    _usable_round(rnd, now)
    coupon = Coupon.__table__
    candidates = (
        select(coupon.c.id)
        .where(
            coupon.c.person_id == person_id,
            coupon.c.round_id == rnd.id,
            coupon.c.state == coupon_wf.S.issued,
        )
        .order_by(coupon.c.id)
        .limit(count)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    ids = fire_bulk(
        db,
        coupon_wf.MACHINE,
        coupon,
        [coupon.c.id.in_(candidates)],
        "use",
        actor=actor,
        now=now,
        reason=ref,
        also={"used_at": now, "redemption_id": redemption_id},
    )
    if len(ids) < count:
        raise NoCoupons()  # the exception rolls back the coupons already moved
    campaign = db.get(Campaign, rnd.campaign_id)
    postings.post(
        db,
        campaign_id=campaign.id,
        kind="use",
        ref=ref,
        moves=[(postings.outstanding(rnd.id), postings.USED, len(ids) * campaign.coupon_face)],
        now=now,
        actor=actor,
    )
    return sorted(ids)


def void(
    db: Session, clock, *, coupon_ids: list[int], rnd: Round, ref: str, actor: str, reason: str
) -> list[int]:
    """Return used coupons to their owner (same round only, while it is running), detached
    from the use they were part of."""
    now = clock.now()
    _usable_round(rnd, now)
    coupon = Coupon.__table__
    ids = fire_bulk(
        db,
        coupon_wf.MACHINE,
        coupon,
        [coupon.c.id.in_(coupon_ids), coupon.c.round_id == rnd.id],
        "void",
        actor=actor,
        now=now,
        reason=reason,
        also={"used_at": None, "redemption_id": None},
    )
    if sorted(ids) != sorted(coupon_ids):
        raise Conflict("取り消せない割引券が含まれています。", code="NOT_VOIDABLE")
    campaign = db.get(Campaign, rnd.campaign_id)
    postings.post(
        db,
        campaign_id=campaign.id,
        kind="void",
        ref=ref,
        moves=[(postings.USED, postings.outstanding(rnd.id), len(ids) * campaign.coupon_face)],
        now=now,
        actor=actor,
        memo=reason,
    )
    return sorted(ids)
