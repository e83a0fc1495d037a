from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, false
from sqlalchemy.orm import Mapped, mapped_column

from kariya.orm import Base, UTCDateTime
from kariya.roles import STAFF_ROLES

_roles = ", ".join(f"'{r}'" for r in STAFF_ROLES)


class StaffUser(Base):
    """A member of staff: store staff, call-centre agent, secretariat operator, city approver."""

    __tablename__ = "staff_user"
    __table_args__ = (
        CheckConstraint(f"role IN ({_roles})", name="role"),
        CheckConstraint("(role = 'store') = (store_id IS NOT NULL)", name="store_bound"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class LoginAttempt(Base):
    """Every staff login attempt, kept for throttling and for the auditors. `address` is the
    client's real address (kariya.security.http); `throttled` attempts were refused unchecked
    and do not count towards the limits."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_username_at", "username", "at"),
        Index("ix_login_attempt_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(Boolean)
    throttled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class LoginUnlock(Base):
    """A secretariat operator lifted an account's login limit: who, when and why. Failures
    before it no longer count against the account."""

    __tablename__ = "login_unlock"
    __table_args__ = (Index("ix_login_unlock_username_at", "username", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    unlocked_by: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(500))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
