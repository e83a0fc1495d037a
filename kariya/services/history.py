"""A resident's uses, newest first (their history page)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from kariya.models import Coupon, Round


def uses_of(db: Session, person_id: int) -> list[dict]:
    """Each used coupon with its round and time of use (redemptions group them once they exist)."""
    rows = db.execute(
        select(Coupon, Round)
        .join(Round, Round.id == Coupon.round_id)
        .where(Coupon.person_id == person_id, Coupon.state == "used")
        .order_by(Coupon.used_at.desc(), Coupon.id)
    ).all()
    return [{"round": r.number, "face": c.face, "used_at": c.used_at} for c, r in rows]
