from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kariya.orm import Base, UTCDateTime
from workflows import redemption as redemption_wf
from workflows.binding import state_check


class Redemption(Base):
    """One use of 1 or 2 coupons at one store (I-5); its state follows workflows.redemption."""

    __tablename__ = "redemption"
    __table_args__ = (
        state_check(redemption_wf.MACHINE),
        CheckConstraint("coupons > 0", name="coupons_positive"),
        CheckConstraint("bill_amount > 0", name="bill_positive"),
        Index("ix_redemption_store_used_at", "store_id", "used_at"),
        Index("ix_redemption_person_used_at", "person_id", "used_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id"))
    coupons: Mapped[int]
    amount: Mapped[int]
    bill_amount: Mapped[int]
    confirmation_code: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(10), default=redemption_wf.S.confirmed)
    used_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    voided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    voided_by: Mapped[str | None] = mapped_column(String(100))
    void_reason: Mapped[str | None] = mapped_column(String(500))


class StoreUse(Base):
    """Coupons a person has used at a store in a round: the store limit (I-5) as a counter row,
    taken with a conditional update so concurrent uses can never pass it."""

    __tablename__ = "store_use"
    __table_args__ = (
        UniqueConstraint("person_id", "store_id", "round_id"),
        CheckConstraint("used >= 0", name="used_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id"))
    used: Mapped[int] = mapped_column(default=0)


class TillLock(Base):
    """A store's QR locked for a resident for one day (Japan time) after too many wrong staff
    PINs (kariya/redemptions/till.py). The count itself lives in Redis (atomic, outside the
    refused request's transaction); this row is the record the call centre reads."""

    __tablename__ = "till_lock"
    __table_args__ = (UniqueConstraint("person_id", "store_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    day: Mapped[dt.date] = mapped_column(Date)
    locked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
