"""The staff's second factor (issue 14): TOTP (RFC 6238, pyotp) and one-time recovery codes.

- Enrolment: a new secret is shown once, as a QR code and as text; it is switched on only by a
  valid code from the person's authenticator, and then 10 recovery codes are shown once. The
  secret is stored encrypted (Fernet, a key from `kariya.staff.totp_key` or derived from the
  session secret); the recovery codes only as hashes.
- Login: after the password, a code of the current 30-second step or one step either side (the
  phone's clock may drift). A step whose code was accepted once is never accepted again, nor
  any earlier one (RFC 6238 §5.2: no replay), a conditional UPDATE so that two simultaneous
  submissions cannot both win. A recovery code works once. Every code is a login attempt of
  its own (`step = 'code'`), counted against the same limits as passwords
  (kariya/staff/throttle.py): wrong codes shut the door like wrong passwords.
- The secretariat resets another person's second factor (a lost phone) with a reason, which is
  recorded; nobody resets their own this way.

TOTP codes follow the phone's clock, that is real time (`authenticator_time`), never the
campaign's settable clock: the demo's clock is in 2024, where no phone's code would match. The
records (enabled, used, attempts) take the project's clock like every record.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import hmac
import io
import logging
import re
import secrets
import unicodedata

import pyotp
import qrcode
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from kariya.clock import utcnow
from kariya.errors import Conflict, DomainError, Invalid
from kariya.roles import SECOND_FACTOR_ROLES
from kariya.settings import Settings
from kariya.staff import throttle
from kariya.staff.accounts import LoginThrottled
from kariya.staff.models import LoginAttempt, RecoveryCode, SecondFactorReset, StaffUser

log = logging.getLogger(__name__)

DRIFT_STEPS = 1  # a code of the step before or after the current one is accepted too
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i: read out, typed again
_RECOVERY_LENGTH = 16  # about 79 bits: a plain hash is enough, nobody can search the space


class CodeRefused(DomainError):
    code = "CODE_REFUSED"
    status = 401
    message = (
        "確認コードが正しくありません。認証アプリに表示されている6桁の数字、"
        "または回復コードを入力してください。"
    )


class CodeReplayed(CodeRefused):
    code = "CODE_REPLAYED"
    message = (
        "この確認コードはすでに使われました。"
        "認証アプリに次のコードが表示されてから入力してください。"
    )


def authenticator_time():
    """The time the authenticator apps' codes follow: real time (tests replace this)."""
    return utcnow()


# -- the secret ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _fernet(material: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"kariya.staff.totp").derive(
        material.encode("utf-8")
    )
    return Fernet(base64.urlsafe_b64encode(key))


def _cipher(settings: Settings) -> Fernet:
    return _fernet(settings.staff.totp_key or settings.session_secret)


def seal(settings: Settings, secret: str) -> str:
    """The secret encrypted for the database (or the enrolment's session record)."""
    return _cipher(settings).encrypt(secret.encode("ascii")).decode("ascii")


def unseal(settings: Settings, token: str | None) -> str | None:
    """The secret, or None where it cannot be read (no secret, or the key has changed)."""
    if not token:
        return None
    try:
        return _cipher(settings).decrypt(token.encode("ascii")).decode("ascii")
    except (InvalidToken, ValueError):
        log.error("a TOTP secret cannot be decrypted: has kariya.staff.totp_key changed?")
        return None


def new_secret() -> str:
    return pyotp.random_base32()  # 160 bits, RFC 4226's recommended length


@dataclasses.dataclass(frozen=True)
class Enrolment:
    """What the enrolment page shows: the secret as text (in groups of four) and as a QR code."""

    secret_text: str
    uri: str
    qr_data_url: str


def enrolment(settings: Settings, user: StaffUser, secret: str) -> Enrolment:
    uri = pyotp.TOTP(secret).provisioning_uri(
        name=user.username, issuer_name=settings.staff.totp_issuer
    )
    image = qrcode.make(uri, box_size=6, border=4)
    buffer = io.BytesIO()
    image.save(buffer)  # PNG: an <img> with a data: URL keeps to the CSP (img-src 'self' data:)
    data_url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    text = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return Enrolment(secret_text=text, uri=uri, qr_data_url=data_url)


def _normalise(code: str) -> str:
    """Full-width digits and letters, spaces and hyphens as people type them."""
    text = unicodedata.normalize("NFKC", code or "")
    return re.sub(r"[\s\-‐‑–—ー]", "", text).lower()[:64]


def _matching_step(secret: str, code: str, at) -> int | None:
    totp = pyotp.TOTP(secret)
    now = totp.timecode(at)
    found = None
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


# -- enrolment -----------------------------------------------------------------------------------


def _recovery_hash(user: StaffUser, code: str) -> str:
    return hashlib.sha256(f"kariya.recovery:{user.id}:{code}".encode()).hexdigest()


def _issue_recovery_codes(db: Session, user: StaffUser, now) -> list[str]:
    db.execute(delete(RecoveryCode).where(RecoveryCode.staff_user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        db.add(
            RecoveryCode(staff_user_id=user.id, code_hash=_recovery_hash(user, raw), created_at=now)
        )
        codes.append("-".join(raw[i : i + 4] for i in range(0, _RECOVERY_LENGTH, 4)))
    db.flush()
    return codes


def enable(db: Session, settings: Settings, clock, user: StaffUser, secret: str, code: str, at):
    """Switch the second factor on with `secret`, once `code` (of the person's authenticator at
    `at`) proves it is set up; returns the recovery codes, which are shown once."""
    if user.has_second_factor:
        raise Conflict(
            "2段階認証はすでに有効です。設定し直すには、事務局にリセットを依頼してください。",
            code="ALREADY_ENABLED",
        )
    normalised = _normalise(code)
    step = _matching_step(secret, normalised, at) if re.fullmatch(r"\d{6}", normalised) else None
    if step is None:
        raise Invalid(
            "確認コードが正しくありません。認証アプリに表示されている6桁の数字を入力してください"
            "(スマートフォンの時刻が正しいかもご確認ください)。"
        )
    now = clock.now()
    user.totp_secret = seal(settings, secret)
    user.totp_enabled_at = now
    user.totp_last_step = step  # the code that switched it on is spent too
    codes = _issue_recovery_codes(db, user, now)
    log.info("second factor enabled", extra={"username": user.username})
    return codes


# -- the second step of a login ------------------------------------------------------------------


def _spend_totp(db: Session, settings: Settings, user: StaffUser, code: str, at) -> str | None:
    """'totp' if the code is good and not spent, 'replayed' if its step was used, else None."""
    secret = unseal(settings, user.totp_secret)
    step = _matching_step(secret, code, at) if secret else None
    if step is None:
        return None
    spent = db.execute(
        update(StaffUser)
        .where(
            StaffUser.id == user.id,
            or_(StaffUser.totp_last_step.is_(None), StaffUser.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    return "totp" if spent.rowcount == 1 else "replayed"


def _spend_recovery(db: Session, user: StaffUser, code: str, now) -> str | None:
    spent = db.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.staff_user_id == user.id,
            RecoveryCode.code_hash == _recovery_hash(user, code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return "recovery" if spent.rowcount == 1 else None


def verify_login(
    db: Session, settings: Settings, clock, user: StaffUser, code: str, address: str, at
) -> str:
    """The second step: 'totp' or 'recovery' when `code` is good, else CodeRefused,
    CodeReplayed or LoginThrottled. Recorded as a login attempt; checked and counted under
    the account's and address's login locks, like a password."""
    address = (address or "-")[:64]
    throttle.serialise(db, user.username, address)
    now = clock.now()
    wait = throttle.retry_after(db, settings, now, user.username, address)
    outcome = None
    if not wait and user.active and user.has_second_factor:
        normalised = _normalise(code)
        if re.fullmatch(r"\d{6}", normalised):
            outcome = _spend_totp(db, settings, user, normalised, at)
        elif len(normalised) == _RECOVERY_LENGTH:
            outcome = _spend_recovery(db, user, normalised, now)
    ok = outcome in ("totp", "recovery")
    db.add(
        LoginAttempt(
            username=user.username,
            address=address,
            succeeded=ok,
            throttled=bool(wait),
            at=now,
            step="code",
        )
    )
    db.flush()
    if wait:
        log.warning("second step throttled", extra={"username": user.username, "address": address})
        raise LoginThrottled(retry_after=wait)
    if not ok:
        log.warning("second step failed", extra={"username": user.username, "address": address})
        raise CodeReplayed() if outcome == "replayed" else CodeRefused()
    log.info("second step", extra={"username": user.username, "factor": outcome})
    return outcome


def recovery_codes_left(db: Session, user: StaffUser) -> int:
    return db.scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.staff_user_id == user.id, RecoveryCode.used_at.is_(None))
    )


# -- the secretariat's reset ----------------------------------------------------------------------


def reset(db: Session, clock, username: str, by_username: str, by: str, reason: str):
    """Switch another person's second factor off (a lost phone): their sessions end, and at the
    next login they enrol again (where it is required) or log in with the password alone."""
    reason = (reason or "").strip()
    if not reason or len(reason) > 500:
        raise Invalid("リセットの理由を500文字以内で入力してください。")
    user = db.scalar(select(StaffUser).where(StaffUser.username == username))
    if user is None:
        raise Invalid(f"ユーザー名 {username} のアカウントはありません。")
    if user.username == by_username:
        raise Conflict(
            "ご自身の2段階認証はリセットできません。別の事務局の職員に依頼してください。",
            code="SAME_PERSON",
        )
    if not user.has_second_factor:
        raise Invalid(f"{username} の2段階認証は有効になっていません。")
    user.totp_secret = None
    user.totp_enabled_at = None  # the credential stamp changes: every session of theirs ends
    user.totp_last_step = None
    db.execute(delete(RecoveryCode).where(RecoveryCode.staff_user_id == user.id))
    record = SecondFactorReset(username=username, reset_by=by[:64], reason=reason, at=clock.now())
    db.add(record)
    db.flush()
    log.warning("second factor reset", extra={"username": username, "by": by})
    return record


@dataclasses.dataclass(frozen=True)
class AccountState:
    username: str
    display_name: str
    role: str
    enabled_at: object
    required: bool
    recovery_codes_left: int


def accounts(db: Session, settings: Settings) -> list[AccountState]:
    """Every active staff account and its second factor, for the secretariat's page."""
    left = dict(
        db.execute(
            select(RecoveryCode.staff_user_id, func.count())
            .where(RecoveryCode.used_at.is_(None))
            .group_by(RecoveryCode.staff_user_id)
        ).all()
    )
    users = db.scalars(
        select(StaffUser).where(StaffUser.active.is_(True)).order_by(StaffUser.username)
    )
    return [
        AccountState(
            username=u.username,
            display_name=u.display_name,
            role=u.role,
            enabled_at=u.totp_enabled_at,
            required=settings.staff.require_totp and u.role in SECOND_FACTOR_ROLES,
            recovery_codes_left=left.get(u.id, 0),
        )
        for u in users
    ]


def recent_resets(db: Session, limit: int = 20) -> list[SecondFactorReset]:
    return list(
        db.scalars(select(SecondFactorReset).order_by(SecondFactorReset.at.desc()).limit(limit))
    )
