from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from kariya.orm import Base, UTCDateTime
from kariya.roles import SECOND_FACTOR_ROLES, STAFF_ROLES

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
    # The second factor (TOTP, kariya/staff/second_factor.py): the secret encrypted (Fernet),
    # when it was switched on, and the last time step whose code was accepted (no replay).
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    totp_enabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)

    @property
    def has_second_factor(self) -> bool:
        return self.totp_enabled_at is not None

    def needs_second_factor(self, required: bool) -> bool:
        """Whether a login of this account takes a code after the password: every account
        that enrolled, and, where `kariya.staff.require_totp` is on (always in production),
        every city and secretariat account (sent to enrolment until it has one)."""
        return self.has_second_factor or (required and self.role in SECOND_FACTOR_ROLES)


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
    # "password", or "code" (the second step: an authenticator's code or a recovery code).
    step: Mapped[str] = mapped_column(String(10), default="password", server_default="password")
    # A right password of an account with a second factor: the login is not complete yet, so
    # it does not restart the account's count (the codes are counted against the same limits).
    awaiting_code: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


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


class RecoveryCode(Base):
    """One of an account's one-time recovery codes (for a lost phone), kept only as a hash;
    `used_at` is set when it is spent."""

    __tablename__ = "staff_recovery_code"
    __table_args__ = (UniqueConstraint("staff_user_id", "code_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class SecondFactorReset(Base):
    """A secretariat operator switched another person's second factor off (a lost phone):
    who, whose, when and why."""

    __tablename__ = "second_factor_reset"
    __table_args__ = (Index("ix_second_factor_reset_username_at", "username", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    reset_by: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(500))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
