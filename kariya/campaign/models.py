from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kariya.orm import Base, UTCDateTime
from workflows import round as round_wf
from workflows.binding import state_check


class Campaign(Base):
    """The programme: every number of its rules lives here (DESIGN.md section 2)."""

    __tablename__ = "campaign"
    __table_args__ = (
        CheckConstraint("total_funds > 0", name="total_funds_positive"),
        CheckConstraint("coupon_face > 0 AND coupons_per_pack > 0", name="pack_positive"),
        CheckConstraint("min_bill_two >= min_bill_one", name="min_bill_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(50), default="Asia/Tokyo")
    total_funds: Mapped[int] = mapped_column(BigInteger)
    coupon_face: Mapped[int]
    coupons_per_pack: Mapped[int]
    store_limit_per_round: Mapped[int]
    min_bill_one: Mapped[int]
    min_bill_two: Mapped[int]
    void_window_minutes: Mapped[int] = mapped_column(default=10, server_default="10")
    issuance_halted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    rounds: Mapped[list[Round]] = relationship(
        back_populates="campaign", order_by="Round.number", cascade="all, delete-orphan"
    )

    @property
    def pack_amount(self) -> int:
        return self.coupon_face * self.coupons_per_pack


class Round(Base):
    """One weekly round: usage period [starts, ends), quota Q = planned + rollover_in."""

    __tablename__ = "round"
    __table_args__ = (
        UniqueConstraint("campaign_id", "number"),
        state_check(round_wf.MACHINE),
        CheckConstraint("issued >= 0 AND issued <= quota", name="issued_within_quota"),
        CheckConstraint("quota = planned + rollover_in", name="quota_sum"),
        CheckConstraint("ends > starts", name="period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    number: Mapped[int]
    starts: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    planned: Mapped[int] = mapped_column(BigInteger)
    rollover_in: Mapped[int] = mapped_column(BigInteger, default=0)
    quota: Mapped[int] = mapped_column(BigInteger)
    issued: Mapped[int] = mapped_column(BigInteger, default=0)
    state: Mapped[str] = mapped_column(String(20), default=round_wf.S.scheduled)

    campaign: Mapped[Campaign] = relationship(back_populates="rounds")

    @property
    def remaining(self) -> int:
        return self.quota - self.issued
