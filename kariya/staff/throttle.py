"""Staff login limits: failures within the window, counted from the login_attempt records.

Three limits (`kariya.login.*`): one account from one address (a stranger elsewhere cannot lock
a person out of their own desk), one address whatever the account, and one account from every
address together (a ceiling against guessing from many places). A throttled attempt is recorded
but not checked and does not count, so the door opens again one window after the failure that
shut it. A success, or a secretariat operator's unlock (recorded with a reason), starts the
account's count afresh; the address limit only runs out. The second factor's codes are attempts
too (kariya/staff/second_factor.py): a wrong code counts like a wrong password, and a right
password of an account that has a second factor is no success until its code is.

Check and count are one step: on PostgreSQL the attempt takes a transaction-scoped advisory lock
on its address and then on its account (always in that order, so never a deadlock) before it
counts, and keeps both until its record is committed; forty simultaneous guesses are checked
one after another, and at most the limit of them reach the password.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from kariya.errors import Invalid
from kariya.settings import Settings
from kariya.staff.models import LoginAttempt, LoginUnlock, StaffUser

# The two keys of pg_advisory_xact_lock(int, int): a namespace and the hashed name.
_LOCK_ADDRESS = 0x4B4C0001
_LOCK_ACCOUNT = 0x4B4C0002


def serialise(db: Session, username: str, address: str) -> None:
    """Hold this account's and this address's login locks until the transaction ends."""
    if db.get_bind().dialect.name != "postgresql":
        return  # SQLite (the demo) writes one transaction at a time anyway
    statement = text("SELECT pg_advisory_xact_lock(:space, hashtext(:name))")
    db.execute(statement, {"space": _LOCK_ADDRESS, "name": address})
    db.execute(statement, {"space": _LOCK_ACCOUNT, "name": username})


def _account_since(db: Session, username: str, since: dt.datetime) -> dt.datetime:
    """Failures of the account count after the window's start, its last success, its last
    unlock: whichever came last."""
    last_success = db.scalar(
        select(func.max(LoginAttempt.at)).where(
            LoginAttempt.username == username,
            LoginAttempt.succeeded.is_(True),
            LoginAttempt.awaiting_code.is_(False),  # a right password is half a login
        )
    )
    last_unlock = db.scalar(
        select(func.max(LoginUnlock.at)).where(LoginUnlock.username == username)
    )
    return max(t for t in (since, last_success, last_unlock) if t is not None)


def retry_after(
    db: Session, settings: Settings, now: dt.datetime, username: str, address: str
) -> int:
    """Seconds until this account may try from this address again (0: it may now)."""
    window = dt.timedelta(minutes=settings.login.window_minutes)
    since = now - window
    account_since = _account_since(db, username, since)
    limits = settings.login
    checks = (
        (
            (LoginAttempt.username == username, LoginAttempt.address == address),
            account_since,
            limits.max_failures_per_account,
        ),
        ((LoginAttempt.address == address,), since, limits.max_failures_per_address),
        (
            (LoginAttempt.username == username,),
            account_since,
            limits.max_failures_per_account_any_address,
        ),
    )
    wait = dt.timedelta()
    for where, start, limit in checks:
        # The limit-th most recent counted failure: while it is in the window, the door is shut.
        shut_by = db.scalar(
            select(LoginAttempt.at)
            .where(
                *where,
                LoginAttempt.succeeded.is_(False),
                LoginAttempt.throttled.is_(False),
                LoginAttempt.at > start,
            )
            .order_by(LoginAttempt.at.desc())
            .offset(max(limit, 1) - 1)
            .limit(1)
        )
        if shut_by is not None:
            wait = max(wait, shut_by + window - now)
    return math.ceil(wait.total_seconds()) if wait > dt.timedelta() else 0


@dataclasses.dataclass(frozen=True)
class Lock:
    username: str
    display_name: str
    role: str
    addresses: tuple[str, ...]
    failures: int
    retry_after: int


def locked_accounts(db: Session, settings: Settings, now: dt.datetime) -> list[Lock]:
    """Staff accounts that cannot log in now from at least one address, with those addresses."""
    since = now - dt.timedelta(minutes=settings.login.window_minutes)
    lowest = min(
        settings.login.max_failures_per_account, settings.login.max_failures_per_account_any_address
    )
    rows = db.execute(
        select(LoginAttempt.username, LoginAttempt.address, func.count())
        .join(StaffUser, StaffUser.username == LoginAttempt.username)
        .where(
            LoginAttempt.succeeded.is_(False),
            LoginAttempt.throttled.is_(False),
            LoginAttempt.at > since,
        )
        .group_by(LoginAttempt.username, LoginAttempt.address)
    ).all()
    per_user: dict[str, list[tuple[str, int]]] = {}
    for username, address, count in rows:
        per_user.setdefault(username, []).append((address, count))
    found = []
    for username, seen in sorted(per_user.items()):
        if sum(n for _a, n in seen) < lowest:
            continue
        shut = [(a, retry_after(db, settings, now, username, a)) for a, _n in seen]
        shut = [(a, wait) for a, wait in shut if wait]
        if not shut:
            continue
        user = db.scalar(select(StaffUser).where(StaffUser.username == username))
        found.append(
            Lock(
                username=username,
                display_name=user.display_name,
                role=user.role,
                addresses=tuple(sorted(a for a, _w in shut)),
                failures=sum(n for _a, n in seen),
                retry_after=max(w for _a, w in shut),
            )
        )
    return found


def unlock(db: Session, clock, username: str, by: str, reason: str) -> LoginUnlock:
    """Lift the account's limits now (its earlier failures stop counting); recorded."""
    reason = (reason or "").strip()
    if not reason or len(reason) > 500:
        raise Invalid("解除の理由を500文字以内で入力してください。")
    if db.scalar(select(StaffUser.id).where(StaffUser.username == username)) is None:
        raise Invalid(f"ユーザー名 {username} のアカウントはありません。")
    record = LoginUnlock(username=username, unlocked_by=by[:64], reason=reason, at=clock.now())
    db.add(record)
    db.flush()
    return record


def recent_unlocks(db: Session, limit: int = 20) -> list[LoginUnlock]:
    return list(db.scalars(select(LoginUnlock).order_by(LoginUnlock.at.desc()).limit(limit)))
