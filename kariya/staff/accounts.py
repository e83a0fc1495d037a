"""Staff accounts: creation, password hashing (Argon2id) and throttled login."""

from __future__ import annotations

import logging
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from kariya import roles
from kariya.errors import DomainError, Invalid
from kariya.settings import Settings
from kariya.staff import throttle
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

    def __init__(self, retry_after: int = 60, **kw):
        minutes = max(1, -(-retry_after // 60))
        super().__init__(
            "ログインの失敗が続いたため、しばらくログインできません。"
            f"約{minutes}分後にもう一度お試しください。"
            "お急ぎの場合は、事務局にログイン制限の解除を依頼してください。",
            **kw,
        )
        self.retry_after = retry_after


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def _check_password(password: str) -> None:
    if len(password) < 10:
        raise Invalid("パスワードは10文字以上にしてください。")


def _store_id(db: Session, role: str, store_code: str | None) -> int | None:
    if role == roles.STORE:
        if not store_code:
            raise Invalid("登録店スタッフには店舗コードが必要です。")
        store = lookup.by_code(db, store_code)
        if store is None:
            raise Invalid(f"店舗コード {store_code} の店舗はありません。")
        return store.id
    if store_code:
        raise Invalid("店舗コードは登録店スタッフにのみ指定できます。")
    return None


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
    _check_password(password)
    store_id = _store_id(db, role, store_code)
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
    """Return the user, or raise LoginFailed / LoginThrottled. Every attempt is recorded.
    An account that needs a second factor (`StaffUser.needs_second_factor`) is not logged in by
    this alone: its code comes next (kariya/staff/second_factor.py).

    The limits are checked and the attempt counted under this account's and address's locks
    (kariya/staff/throttle.py), held until the caller's transaction commits."""
    username = (username or "").strip()[:64]
    address = (address or "-")[:64]
    throttle.serialise(db, username, address)
    now = clock.now()
    wait = throttle.retry_after(db, settings, now, username, address)

    user = db.scalar(select(StaffUser).where(StaffUser.username == username)) if username else None
    ok = False
    if not wait:
        try:
            ok = _hasher.verify(user.password_hash if user else _DUMMY_HASH, password or "")
        except (VerificationError, InvalidHashError):
            ok = False
        ok = ok and user is not None and user.active
    awaiting_code = ok and user.needs_second_factor(settings.staff.require_totp)
    db.add(
        LoginAttempt(
            username=username,
            address=address,
            succeeded=ok,
            throttled=bool(wait),
            at=now,
            awaiting_code=awaiting_code,
        )
    )
    db.flush()
    if wait:
        log.warning("login throttled", extra={"username": username, "address": address})
        raise LoginThrottled(retry_after=wait)
    if not ok:
        log.warning("login failed", extra={"username": username, "address": address})
        raise LoginFailed()
    log.info("login", extra={"username": username, "role": user.role})
    return user


def set_password(db: Session, user: StaffUser, password: str) -> None:
    """A new password: every session of the account ends (kariya.security's credential stamp)."""
    _check_password(password)
    user.password_hash = hash_password(password)
    db.flush()


def set_role(db: Session, user: StaffUser, role: str, store_code: str | None = None) -> None:
    """Another role (and, for store staff, its store): every session of the account ends."""
    if role not in roles.STAFF_ROLES:
        raise Invalid(f"役割は {', '.join(roles.STAFF_ROLES)} のいずれかです。")
    user.store_id = _store_id(db, role, store_code)
    user.role = role
    db.flush()
