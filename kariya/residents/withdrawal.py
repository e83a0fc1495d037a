"""Withdrawal (DESIGN §5.1 `DELETE /api/v1/me`; D-1, I-2): a resident leaves the programme.

What goes: the display name, the profile answers (age band, area), the legacy terms label, the
replay records (their first answers), and the LINE user id, which is replaced by
`withdrawn:<ref>` and kept only as `line_hash`, HMAC-SHA256 under the key of the settings
(`kariya.privacy.withdrawal_key`): without the key the hash says nothing, and it is not the
SHA-256 of the id, which anyone could compute from a known id.

What stays, pseudonymous (known by `ref` only): the acquisitions, coupons, uses, store counters,
ledger postings (money records: the stores are paid and the city is told from them), the
consents (version and time), the call centre's records (shown as 退会済み).

Unused coupons stay issued: nobody can use them any more (the record can no longer log in, and
acquisition and use refuse it), and they expire with their round, whose close rolls their value
over to the next round (I-4) as for anyone else's; the terms say "退会した後は、受け取った割引券は
使えません". So a withdrawal posts nothing and the ledger check holds unchanged.

The same LINE account logging in again is a new person (`get_or_create`), linked by the hash to
its withdrawn records (`returned_from_id`); the acquisition's claim (kariya.coupons.acquisition)
looks there, so the account still acquires once per round. Races: the withdrawal locks the
person row (FOR UPDATE) and the claim locks it too (FOR KEY SHARE, which the acquisition's
foreign key takes anyway), so a claim either commits before the withdrawal does, and the
returning person sees its acquisition, or waits for it and finds the record withdrawn.
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kariya.errors import DomainError
from kariya.residents.models import IdempotencyRecord, Person
from kariya.settings import Settings

WITHDRAWN_PREFIX = "withdrawn:"
ERASED_PREFIX = "erased:"  # the erasure after the hand-over (kariya.reports.retention)
# What a LINE user id column holds once the id is gone; never a LINE id (those start with U).
PLACEHOLDERS = (WITHDRAWN_PREFIX, ERASED_PREFIX)
_DERIVED = b"kariya.privacy.withdrawal_key"


class Withdrawn(DomainError):
    """A session that outlived its resident's withdrawal (another browser) asks for something."""

    code = "UNAUTHENTICATED"
    status = 401
    message = (
        "退会の手続きが済んでいます。あらためて利用するには、もう一度LINEでログインしてください。"
    )


def hash_key(settings: Settings) -> bytes:
    """The key of the LINE ids' hashes: the setting, or (outside production, where it may be
    empty) one derived from the session secret."""
    key = settings.privacy.withdrawal_key
    if key:
        return key.encode("utf-8")
    return hmac.new(settings.session_secret.encode("utf-8"), _DERIVED, hashlib.sha256).digest()


def line_hash(key: bytes, line_user_id: str) -> str:
    """HMAC-SHA256 of the LINE user id under `key`, hex."""
    return hmac.new(key, line_user_id.encode("utf-8"), hashlib.sha256).hexdigest()


def returned_from(line_hash_value: str):
    """The latest withdrawn record of the LINE account whose hash this is (a scalar subquery
    for the new record's `returned_from_id`; NULL for an account that never withdrew)."""
    return (
        select(Person.id)
        .where(Person.line_hash == line_hash_value)
        .order_by(Person.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def withdraw(db: Session, clock, person_id: int, key: bytes) -> bool:
    """Erase the resident's personal data and keep the LINE id only as its keyed hash. True if
    this call withdrew them, False if they had withdrawn already (a repeat answers the same)."""
    person = db.scalar(
        select(Person)
        .where(Person.id == person_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if person is None:
        raise Withdrawn()
    if person.withdrawn:
        return False
    if person.blocked:
        # Its coupons moved to the resident's new account; that account is the one to leave.
        from kariya.residents.profiles import AccountMoved

        raise AccountMoved()
    person.line_hash = line_hash(key, person.line_user_id)
    person.line_user_id = WITHDRAWN_PREFIX + person.ref
    person.display_name = ""
    person.age_band = None
    person.area = None
    person.terms_version = None
    person.withdrawn_at = clock.now()
    db.execute(delete(IdempotencyRecord).where(IdempotencyRecord.person_id == person_id))
    db.flush()
    return True
