from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from kariya.orm import Base, UTCDateTime
from workflows import fraud as fraud_wf
from workflows.binding import state_check

_OPEN = "state IN ({})".format(", ".join(f"'{s}'" for s in fraud_wf.OPEN))


class FraudCase(Base):
    """A suspicion raised by a rule (kariya.fraud.rules) about one store or one resident: at
    most one open case per rule and subject (a partial unique index); a later scan adds its
    evidence to the open case. Its state follows workflows.fraud; `figures` are the latest
    figures against the norm (JSON), `summary` says them in Japanese."""

    __tablename__ = "fraud_case"
    __table_args__ = (
        state_check(fraud_wf.MACHINE),
        CheckConstraint("(store_id IS NULL) <> (person_id IS NULL)", name="one_subject"),
        Index(
            "uq_fraud_case_open",
            "rule",
            "subject",
            unique=True,
            postgresql_where=text(_OPEN),
            sqlite_where=text(_OPEN),
        ),
        Index("ix_fraud_case_rule_subject", "rule", "subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    rule: Mapped[str] = mapped_column(String(30))
    subject: Mapped[str] = mapped_column(String(30))  # "store:12" or "person:34"
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    state: Mapped[str] = mapped_column(String(15), default=fraud_wf.S.flagged)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    figures: Mapped[str] = mapped_column(Text, default="{}")
    summary: Mapped[str] = mapped_column(String(500), default="")
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    adjustment_id: Mapped[int | None] = mapped_column(ForeignKey("payout_adjustment.id"))


class FraudEvidence(Base):
    """One piece of a case's evidence: a use, a resident (registered in bulk), a bank account
    change, or a mark of what was found (`round:3`, `day:2024-01-20`); its `key` is unique per
    case, so a re-scan adds only what is new."""

    __tablename__ = "fraud_evidence"
    __table_args__ = (UniqueConstraint("case_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("fraud_case.id"), index=True)
    key: Mapped[str] = mapped_column(String(40))
    redemption_id: Mapped[int | None] = mapped_column(ForeignKey("redemption.id"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    bank_change_id: Mapped[int | None] = mapped_column(ForeignKey("bank_change_request.id"))
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
