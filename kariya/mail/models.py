"""The mail outbox (S-4): rows written in the transaction that decides to send."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kariya.orm import Base, UTCDateTime
from workflows import mail as mail_wf
from workflows.binding import state_check


class OutboundMail(Base):
    """The mail outbox: written in the same transaction as what it tells, sent afterwards by a
    task (workflows.mail: pending -> sent | failed; failed -> pending to retry)."""

    __tablename__ = "outbound_mail"
    __table_args__ = (
        state_check(mail_wf.MACHINE),
        UniqueConstraint("ref", "to_addr"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(100))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id"), index=True)
    to_addr: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10), default=mail_wf.S.pending, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
