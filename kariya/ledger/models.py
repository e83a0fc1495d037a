from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kariya.orm import Base, UTCDateTime


class LedgerEntry(Base):
    """One money movement; its postings sum to zero. `ref` is unique, so replays post nothing."""

    __tablename__ = "ledger_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    ref: Mapped[str] = mapped_column(String(100), unique=True)
    memo: Mapped[str] = mapped_column(String(300), default="")
    actor: Mapped[str] = mapped_column(String(100), default="")
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    postings: Mapped[list[LedgerPosting]] = relationship(back_populates="entry")


class LedgerPosting(Base):
    """A signed amount on one account. Never updated or deleted."""

    __tablename__ = "ledger_posting"
    __table_args__ = (Index("ix_ledger_posting_account", "account"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entry.id"), index=True)
    account: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(BigInteger)

    entry: Mapped[LedgerEntry] = relationship(back_populates="postings")
