from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kariya.orm import Base, UTCDateTime
from workflows import payout as payout_wf
from workflows import store as store_wf
from workflows.binding import state_check


class PayoutBatch(Base):
    """The payments of one settlement period, one line per store (F-1..F-5)."""

    __tablename__ = "payout_batch"
    __table_args__ = (state_check(payout_wf.MACHINE),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    period_key: Mapped[str] = mapped_column(String(20))
    period_starts: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    period_ends: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(12), default=payout_wf.S.draft)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    submitted_by: Mapped[str | None] = mapped_column(String(100))
    approved_by: Mapped[str | None] = mapped_column(String(100))
    decision_reason: Mapped[str | None] = mapped_column(String(500))
    transfer_date: Mapped[dt.date | None]
    zengin_file: Mapped[bytes | None] = mapped_column(LargeBinary)
    zengin_sha256: Mapped[str | None] = mapped_column(String(64))

    lines: Mapped[list[PayoutLine]] = relationship(back_populates="batch", order_by="PayoutLine.id")


class PayoutLine(Base):
    """One store's transfer in a batch. `included` lines are paid; `held` ones (no valid account,
    suspended) carry their uses to the next batch; a `failed` transfer does too."""

    __tablename__ = "payout_line"
    __table_args__ = (
        UniqueConstraint("batch_id", "store_id"),
        state_check(payout_wf.LINE, column="status"),
        CheckConstraint("amount >= 0 AND count >= 0 AND fee >= 0", name="amounts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("payout_batch.id"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    count: Mapped[int]
    amount: Mapped[int]
    status: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str] = mapped_column(String(500), default="")
    bank_code: Mapped[str] = mapped_column(String(4), default="")
    branch_code: Mapped[str] = mapped_column(String(3), default="")
    account_type: Mapped[str] = mapped_column(String(10), default="")
    account_number: Mapped[str] = mapped_column(String(7), default="")
    account_holder_kana: Mapped[str] = mapped_column(String(100), default="")
    fee: Mapped[int] = mapped_column(default=0)  # the operator's cost, never deducted (F-4)

    batch: Mapped[PayoutBatch] = relationship(back_populates="lines")


class PayoutItem(Base):
    """A redemption, or an approved adjustment, in a payout line. At most one active item per
    redemption and per adjustment (partial unique indexes): nothing is ever paid twice. A failed
    transfer deactivates its items."""

    __tablename__ = "payout_item"
    __table_args__ = (
        Index(
            "uq_payout_item_active_redemption",
            "redemption_id",
            unique=True,
            postgresql_where=text("active"),
            sqlite_where=text("active"),
        ),
        Index(
            "uq_payout_item_active_adjustment",
            "adjustment_id",
            unique=True,
            postgresql_where=text("active"),
            sqlite_where=text("active"),
        ),
        CheckConstraint("(redemption_id IS NULL) <> (adjustment_id IS NULL)", name="one_subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("payout_line.id"), index=True)
    redemption_id: Mapped[int | None] = mapped_column(ForeignKey("redemption.id"))
    adjustment_id: Mapped[int | None] = mapped_column(ForeignKey("payout_adjustment.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class PayoutAdjustment(Base):
    """A correction of what a store is owed (a disputed use, a mistake found in reconciliation):
    a signed amount with a reason, proposed by one person and approved by another
    (workflows.payout.ADJUSTMENT). Never an edit of a use or a line: once approved it is paid, or
    deducted, in the store's next batch like a use."""

    __tablename__ = "payout_adjustment"
    __table_args__ = (
        state_check(payout_wf.ADJUSTMENT),
        CheckConstraint("amount <> 0", name="amount_nonzero"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"), index=True)
    redemption_id: Mapped[int | None] = mapped_column(ForeignKey("redemption.id"))
    amount: Mapped[int]
    reason: Mapped[str] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(10), default=payout_wf.A.proposed)
    proposed_by: Mapped[str] = mapped_column(String(100))
    proposed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decision_reason: Mapped[str] = mapped_column(String(500), default="")


class BankChangeRequest(Base):
    """A store asks for its transfer account to change; the secretariat approves or rejects it
    (workflows.store.BANK_CHANGE). Until approved, payments go to the account on record. At most one
    open request per store (a partial unique index)."""

    __tablename__ = "bank_change_request"
    __table_args__ = (
        state_check(store_wf.BANK_CHANGE),
        Index(
            "uq_bank_change_request_open",
            "store_id",
            unique=True,
            postgresql_where=text(f"state = '{store_wf.B.requested}'"),
            sqlite_where=text(f"state = '{store_wf.B.requested}'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"), index=True)
    bank_code: Mapped[str] = mapped_column(String(4))
    branch_code: Mapped[str] = mapped_column(String(3))
    account_type: Mapped[str] = mapped_column(String(10))
    account_number: Mapped[str] = mapped_column(String(7))
    account_holder_kana: Mapped[str] = mapped_column(String(100))
    previous_account: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(String(500), default="")
    state: Mapped[str] = mapped_column(String(12), default=store_wf.B.requested)
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decision_reason: Mapped[str] = mapped_column(String(500), default="")


class PayoutHold(Base):
    """A store's payments held for a reason of another domain (a fraud case under review): while
    a hold is active its lines are held with the reason shown and stay out of the Zengin file.
    One active hold per source (e.g. `fraud_case:12`, a partial unique index). A hold may wait
    for an adjustment's decision (a confirmed case's deduction) and is lifted with it."""

    __tablename__ = "payout_hold"
    __table_args__ = (
        Index(
            "uq_payout_hold_active_source",
            "source",
            unique=True,
            postgresql_where=text("released_at IS NULL"),
            sqlite_where=text("released_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"), index=True)
    source: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(300))
    placed_by: Mapped[str] = mapped_column(String(100))
    placed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    adjustment_id: Mapped[int | None] = mapped_column(ForeignKey("payout_adjustment.id"))
    released_by: Mapped[str | None] = mapped_column(String(100))
    released_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
