from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, ForeignKeyConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kariya.orm import Base, UTCDateTime
from workflows import coupon as coupon_wf
from workflows.binding import state_check


class Acquisition(Base):
    """One per person per round (I-2), enforced by the unique constraint."""

    __tablename__ = "acquisition"
    __table_args__ = (
        UniqueConstraint("round_id", "person_id"),
        # What a coupon's one foreign key refers to (Coupon, below).
        UniqueConstraint("id", "round_id", "person_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    amount: Mapped[int]
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Coupon(Base):
    """A ¥500 coupon of one person and one round; its state follows workflows.coupon.

    Its acquisition, round and person are one foreign key, to the acquisition's own three: the
    coupon is of the round and the person of the pack it came in (the acquisition's keys to the
    round and the person stand for its coupons'). Three keys of their own, as before, said less
    and cost the weekly rush three look-ups by the database a coupon, twelve a pack: with one,
    the database's CPU for an acquisition fell by a sixth (issue 16; README, "The weekly
    rush")."""

    __tablename__ = "coupon"
    __table_args__ = (
        state_check(coupon_wf.MACHINE),
        ForeignKeyConstraint(
            ["acquisition_id", "round_id", "person_id"],
            ["acquisition.id", "acquisition.round_id", "acquisition.person_id"],
            # A returning resident's records moved to the new account (kariya.callcenter.
            # transfers): the coupons follow their acquisition.
            onupdate="CASCADE",
        ),
        Index("ix_coupon_person_round_state", "person_id", "round_id", "state"),
        Index("ix_coupon_round_state", "round_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    acquisition_id: Mapped[int]
    person_id: Mapped[int]
    round_id: Mapped[int]
    face: Mapped[int]
    state: Mapped[str] = mapped_column(String(10), default=coupon_wf.S.issued)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    redemption_id: Mapped[int | None] = mapped_column(ForeignKey("redemption.id"), index=True)
