from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kariya.orm import Base, UTCDateTime
from workflows import store as store_wf
from workflows.binding import state_check


class Store(Base):
    """A registered store (S-1); its registration state follows workflows.store."""

    __tablename__ = "store"
    __table_args__ = (state_check(store_wf.MACHINE),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kana: Mapped[str] = mapped_column(String(200), default="")
    category: Mapped[str] = mapped_column(String(50), default="")
    area: Mapped[str] = mapped_column(String(50), default="")
    address: Mapped[str] = mapped_column(String(300), default="")
    phone: Mapped[str] = mapped_column(String(30), default="")
    hours: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    bank_code: Mapped[str] = mapped_column(String(4), default="")
    branch_code: Mapped[str] = mapped_column(String(3), default="")
    account_type: Mapped[str] = mapped_column(String(10), default="")
    account_number: Mapped[str] = mapped_column(String(7), default="")
    account_holder_kana: Mapped[str] = mapped_column(String(100), default="")
    search_text: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(20), default=store_wf.S.applied)
    qr_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The staff PIN the store opted into (kariya/redemptions/till.py), as a keyed hash; None:
    # no PIN, a use needs none. Read with the store at every use, so no PIN costs no lookup.
    till_pin_hash: Mapped[str | None] = mapped_column(String(64))
    till_pin_set_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    till_pin_set_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


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
