"""What passes between the secretariat and a store besides money: a request to change the bank
account (approved before it takes effect), notices to stores (S-4) and the mail outbox."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from kariya.models.meta import Base
from kariya.models.types import UTCDateTime


class BankChangeRequest(Base):
    """A store asks for its transfer account to change; the secretariat approves or rejects it
    (workflows.bank_change). Until approved, payments go to the account on record. At most one
    open request per store (a partial unique index)."""

    __tablename__ = "bank_change_request"
    __table_args__ = (
        CheckConstraint(
            "state IN ('requested', 'approved', 'rejected', 'withdrawn')", name="state"
        ),
        Index(
            "uq_bank_change_request_open",
            "store_id",
            unique=True,
            postgresql_where=text("state = 'requested'"),
            sqlite_where=text("state = 'requested'"),
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
    state: Mapped[str] = mapped_column(String(12), default="requested")
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decision_reason: Mapped[str] = mapped_column(String(500), default="")


class StoreNotice(Base):
    """A notice from the secretariat to every store (S-4), e.g. a changed period."""

    __tablename__ = "store_notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class StoreNoticeRead(Base):
    """A store has read a notice (once per store; who and when)."""

    __tablename__ = "store_notice_read"
    __table_args__ = (UniqueConstraint("notice_id", "store_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("store_notice.id"))
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"), index=True)
    read_by: Mapped[str] = mapped_column(String(100))
    read_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class OutboundMail(Base):
    """The mail outbox: written in the same transaction as what it tells, sent afterwards by a
    task (workflows.mail: pending -> sent | failed; failed -> pending to retry)."""

    __tablename__ = "outbound_mail"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'sent', 'failed')", name="state"),
        UniqueConstraint("ref", "to_addr"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(100))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id"), index=True)
    to_addr: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
