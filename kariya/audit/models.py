"""The access record (D-1): every time staff see a resident's personal data or export records,
who, with which role, when, what, whose and why (the inquiry it serves). Append only; no
foreign keys, so that no deletion elsewhere can take a record with it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from kariya.orm import Base, UTCDateTime


class AccessRecord(Base):
    __tablename__ = "access_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    # What was done: resident.search, resident.view, export.<kind>, transfer.<step>, denied.
    action: Mapped[str] = mapped_column(String(40))
    # Whose data: a resident's person_ref, or what was exported.
    subject: Mapped[str] = mapped_column(String(100), default="", index=True)
    inquiry_id: Mapped[int | None] = mapped_column(BigInteger)
    # The search typed, the path refused, the rows exported (free text, for the auditors).
    detail: Mapped[str] = mapped_column(String(300), default="")
    address: Mapped[str] = mapped_column(String(64), default="")
