"""Staff accounts: creation, password hashing (Argon2id) and throttled login."""

from __future__ import annotations

import datetime as dt
import logging
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kariya import roles
from kariya.errors import DomainError, Invalid
from kariya.settings import Settings
from kariya.staff.models import LoginAttempt, StaffUser
from kariya.stores import lookup

log = logging.getLogger(__name__)
_hasher = PasswordHasher()
# A hash to verify against when the user does not exist, so timing tells nothing.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class LoginFailed(DomainError):
    code = "LOGIN_FAILED"
    status = 401
    message = "ユーザー名またはパスワードが正しくありません。"


class LoginThrottled(DomainError):
    code = "LOGIN_THROTTLED"
    status = 429
    message = "ログインの失敗が続いたため、しばらくログインできません。時間をおいてお試しください。"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def create_user(
    db: Session,
    clock,
    *,
    username: str,
    password: str,
    role: str,
    display_name: str = "",
    store_code: str | None = None,
) -> StaffUser:
    username = username.strip()
    if not username or len(username) > 64:
        raise Invalid("ユーザー名は1〜64文字で入力してください。")
    if role not in roles.STAFF_ROLES:
        raise Invalid(f"役割は {', '.join(roles.STAFF_ROLES)} のいずれかです。")
    if len(password) < 10:
        raise Invalid("パスワードは10文字以上にしてください。")
    store_id = None
    if role == roles.STORE:
        if not store_code:
            raise Invalid("登録店スタッフには店舗コードが必要です。")
        store = lookup.by_code(db, store_code)
        if store is None:
            raise Invalid(f"店舗コード {store_code} の店舗はありません。")
        store_id = store.id
    elif store_code:
        raise Invalid("店舗コードは登録店スタッフにのみ指定できます。")
    if db.scalar(select(StaffUser.id).where(StaffUser.username == username)):
        raise Invalid(f"ユーザー名 {username} はすでに使われています。")
    user = StaffUser(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        role=role,
        store_id=store_id,
        active=True,
        created_at=clock.now(),
    )
    db.add(user)
    db.flush()
    return user


def authenticate(
    db: Session, clock, settings: Settings, username: str, password: str, address: str
) -> StaffUser:
    """Return the user, or raise LoginFailed / LoginThrottled. Every attempt is recorded."""
    now = clock.now()
    window = dt.timedelta(minutes=settings.login.window_minutes)
    username = (username or "").strip()[:64]
    address = (address or "-")[:64]

    def failures(column, value) -> int:
        return db.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(
                column == value, LoginAttempt.succeeded.is_(False), LoginAttempt.at > now - window
            )
        )

    throttled = (
        failures(LoginAttempt.username, username) >= settings.login.max_failures_per_account
        or failures(LoginAttempt.address, address) >= settings.login.max_failures_per_address
    )

    user = db.scalar(select(StaffUser).where(StaffUser.username == username)) if username else None
    ok = False
    if not throttled:
        try:
            ok = _hasher.verify(user.password_hash if user else _DUMMY_HASH, password or "")
        except (VerificationError, InvalidHashError):
            ok = False
        ok = ok and user is not None and user.active
    db.add(LoginAttempt(username=username, address=address, succeeded=ok, at=now))
    db.flush()
    if throttled:
        log.warning("login throttled", extra={"username": username, "address": address})
        raise LoginThrottled()
    if not ok:
        log.warning("login failed", extra={"username": username, "address": address})
        raise LoginFailed()
    log.info("login", extra={"username": username, "role": user.role})
    return user
