"""The record of every transition of every machine (who, when, from, to, why)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kariya.orm import Base, UTCDateTime


class TransitionRecord(Base):
    """Who moved which row from which state to which, when and why (every machine)."""

    __tablename__ = "transition_record"
    __table_args__ = (Index("ix_transition_record_entity", "machine", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    machine: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    event: Mapped[str] = mapped_column(String(30))
    from_state: Mapped[str] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(500), default="")
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
