"""The call centre's records: inquiries (tickets) with their journal, the reminders already
given (one per due time) and the lost-phone transfer requests."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from kariya.orm import Base, UTCDateTime
from workflows import inquiry as inquiry_wf
from workflows.binding import state_check

CALLER_TYPES = ("resident", "store", "other")
CHANNELS = ("phone", "mail", "other")
REMINDER_KINDS = ("escalation", "due_soon")


def _listed(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


class Inquiry(Base):
    """A call-centre ticket (Q-1): who called, about what, linked to the records it concerns;
    its state follows workflows.inquiry. Times are business-time deadlines (Q-2)."""

    __tablename__ = "inquiry"
    __table_args__ = (
        state_check(inquiry_wf.MACHINE),
        CheckConstraint(f"caller_type IN ({_listed(CALLER_TYPES)})", name="caller_type"),
        CheckConstraint(f"channel IN ({_listed(CHANNELS)})", name="channel"),
        Index("ix_inquiry_state_due_at", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(String(10), default=inquiry_wf.S.new)
    caller_type: Mapped[str] = mapped_column(String(10))
    channel: Mapped[str] = mapped_column(String(10))
    category: Mapped[str] = mapped_column(String(30))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id"), index=True)
    redemption_id: Mapped[int | None] = mapped_column(ForeignKey("redemption.id"))
    payout_line_id: Mapped[int | None] = mapped_column(ForeignKey("payout_line.id"))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    assignee: Mapped[str | None] = mapped_column(String(100))
    # The due time in business hours (it moves on by the time spent waiting on the caller) and
    # when agents are warned before it.
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    warn_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    waiting_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    escalation_summary: Mapped[str] = mapped_column(Text, default="")
    # The next reminder to the city while the escalation waits for its answer.
    remind_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    answered_by: Mapped[str | None] = mapped_column(String(100))
    answer: Mapped[str] = mapped_column(Text, default="")
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # When a resolved inquiry closes by itself (N business days after it was resolved).
    close_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("inquiry.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class InquiryEvent(Base):
    """The inquiry's journal: every transition (who, when, from, to, the note) and every note
    added on its own. A note that quotes the answer manual names the version it quoted."""

    __tablename__ = "inquiry_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    inquiry_id: Mapped[int] = mapped_column(ForeignKey("inquiry.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    event: Mapped[str] = mapped_column(String(20))
    from_state: Mapped[str | None] = mapped_column(String(10))
    to_state: Mapped[str | None] = mapped_column(String(10))
    note: Mapped[str] = mapped_column(Text, default="")
    manual_version: Mapped[int | None]
    manual_section: Mapped[str | None] = mapped_column(String(200))


class InquiryReminder(Base):
    """A reminder given (an escalation unanswered, a due time close): one per inquiry, kind and
    due time, written in the transaction that gives it, so two beats or a retried task can never
    give it twice."""

    __tablename__ = "inquiry_reminder"
    __table_args__ = (
        UniqueConstraint("inquiry_id", "kind", "due_at"),
        CheckConstraint(f"kind IN ({_listed(REMINDER_KINDS)})", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    inquiry_id: Mapped[int] = mapped_column(ForeignKey("inquiry.id"))
    kind: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class PersonTransfer(Base):
    """A lost phone or a new LINE account: the coupons and history of one resident record move
    to another once a city approver approves (workflows.inquiry.TRANSFER)."""

    __tablename__ = "person_transfer"
    __table_args__ = (
        state_check(inquiry_wf.TRANSFER),
        CheckConstraint("from_person_id <> to_person_id", name="two_people"),
        Index(
            "uq_person_transfer_open",
            "from_person_id",
            unique=True,
            postgresql_where=text(f"state = '{inquiry_wf.T.requested}'"),
            sqlite_where=text(f"state = '{inquiry_wf.T.requested}'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(String(10), default=inquiry_wf.T.requested)
    inquiry_id: Mapped[int] = mapped_column(ForeignKey("inquiry.id"), index=True)
    from_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    to_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    identity_check: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str] = mapped_column(String(500), default="")
    moved: Mapped[str] = mapped_column(Text, default="")
