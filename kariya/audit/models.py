"""The audit domain's two logs. The access record (D-1): every time staff see a resident's
personal data or export records, who, with which role, when, what, whose and why (the inquiry it
serves). The staff action: every state-changing action of staff (I-10). Both append only; no
foreign keys, so that no deletion elsewhere can take a record with it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Integer, String
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


class StaffAction(Base):
    """The audit log of staff actions (kariya.audit.actions): who (account and role) did what
    (the route, or the command) to which record, from which address, when, with what outcome.
    Append only: on PostgreSQL and SQLite a trigger refuses UPDATE and DELETE. No foreign keys,
    and no request bodies: never a password, a CSRF token or a resident's data."""

    __tablename__ = "staff_action"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    # `staff:<username>` as the transition records name it, `cli:<user>` for a command run
    # without --as, "" for a login attempt that named no account that logged in.
    actor: Mapped[str] = mapped_column(String(100), index=True)
    role: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(64))
    # The route's name, with its own {action} when it has one (city.payout_action.approve),
    # or cli.<command>; kariya.audit.action_labels names it in Japanese.
    action: Mapped[str] = mapped_column(String(80), index=True)
    method: Mapped[str] = mapped_column(String(10))  # POST, PUT, PATCH, DELETE, or CLI
    # The record acted on: the route's matched ids as `key=value` words (id=12, code=S0001,
    # kind=store_manual number=2), and what the view adds (account=city).
    record: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[int] = mapped_column(Integer)  # the HTTP status answered
    outcome: Mapped[str] = mapped_column(String(12))  # done, refused, error, aborted
    detail: Mapped[str] = mapped_column(String(200), default="")
    # The transition records written in the same transaction (the machines' own log of who,
    # when, from, to and why; linked here, never copied): the first few ids and how many.
    transition_ids: Mapped[str] = mapped_column(String(120), default="")
    transitions: Mapped[int] = mapped_column(Integer, default=0)
