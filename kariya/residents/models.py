from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kariya.orm import Base, UTCDateTime


class Person(Base):
    """A resident, known by their LINE user id (OpenID `sub`), with a one-time profile (I-1)."""

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    line_user_id: Mapped[str] = mapped_column(String(64), unique=True)
    # The pseudonymous reference (kariya.residents.refs): random, read out on the phone.
    ref: Mapped[str] = mapped_column(String(12), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    age_band: Mapped[str | None] = mapped_column(String(20))
    area: Mapped[str | None] = mapped_column(String(50))
    # Legacy: the label of the terms agreed before the terms became a versioned document
    # (kariya.documents.consent keeps the consents now). Kept for the previous release; unused.
    terms_version: Mapped[str | None] = mapped_column(String(20))
    profile_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # Set when the call centre moved this record's coupons to a new LINE account (a lost
    # phone): the record can no longer log in, acquire or use (kariya.callcenter.transfers).
    blocked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    successor_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    # Withdrawal (kariya.residents.withdrawal): when the resident left; their LINE user id is
    # then replaced and kept only as `line_hash` (HMAC-SHA256 under a key of the settings).
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    line_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    # A record made for a LINE account that had withdrawn before: the latest withdrawn record
    # of that account (by the hash), whose acquisitions still count for one per round (I-2).
    returned_from_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))

    @property
    def has_profile(self) -> bool:
        return self.profile_at is not None

    @property
    def blocked(self) -> bool:
        return self.blocked_at is not None

    @property
    def withdrawn(self) -> bool:
        return self.withdrawn_at is not None


class IdempotencyRecord(Base):
    """The first response to a (person, Idempotency-Key) pair, replayed to retries."""

    __tablename__ = "idempotency_record"
    __table_args__ = (Index("uq_idempotency_record_person_key", "person_id", "key", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(BigInteger)
    key: Mapped[str] = mapped_column(String(100))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int]
    body: Mapped[str] = mapped_column(String)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
