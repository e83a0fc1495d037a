"""Residents: created at their first login, with a one-time profile (I-1) and a reference number
(kariya.residents.refs). The agreement to the terms that the first visit also asks for is
kariya.documents.consent's (it knows the published terms)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from kariya.errors import DomainError, Invalid
from kariya.orm import insert_or_skip
from kariya.residents import refs, withdrawal
from kariya.residents.models import Person
from kariya.residents.options import AGE_BANDS, AREAS


class AccountMoved(DomainError):
    """The record's coupons moved to the resident's new LINE account (a lost phone; the call
    centre's transfer): it may no longer log in, acquire or use."""

    code = "ACCOUNT_MOVED"
    status = 403
    message = (
        "このアカウントの割引券は新しいLINEアカウントへ移行済みのため、"
        "このアカウントでは利用できません。新しいアカウントでログインしてください。"
    )


def get_or_create(
    db: Session, clock, line_user_id: str, display_name: str = "", *, hash_key: bytes
) -> Person:
    """The resident of this LINE account, made at their first login. A new record of an account
    that withdrew before is linked to its withdrawn records by the keyed hash of the id
    (`hash_key`, kariya.residents.withdrawal.hash_key), so that it acquires once per round."""
    if len(line_user_id) > 64 or line_user_id.startswith(withdrawal.PLACEHOLDERS):
        raise Invalid("LINE のユーザーIDが正しくありません。")
    person = db.scalar(select(Person).where(Person.line_user_id == line_user_id))
    if person is not None:
        return _renamed(person, display_name)
    earlier = withdrawal.returned_from(withdrawal.line_hash(hash_key, line_user_id))
    for _ in range(5):  # a new ref that another person holds already: draw again
        db.execute(
            insert_or_skip(db, Person).values(
                line_user_id=line_user_id,
                ref=refs.new_ref(),
                display_name=display_name[:100],
                created_at=clock.now(),
                returned_from_id=earlier,
            )
        )
        person = db.scalar(select(Person).where(Person.line_user_id == line_user_id))
        if person is not None:
            break
    else:
        raise RuntimeError("could not draw a free resident reference")
    return _renamed(person, display_name)


def _renamed(person: Person, display_name: str) -> Person:
    if display_name and person.display_name != display_name[:100]:
        person.display_name = display_name[:100]
    return person


def ref_of(db: Session, person_id: int) -> str | None:
    """The resident's reference number (kariya.residents.refs), for their help page."""
    return db.scalar(select(Person.ref).where(Person.id == person_id))


def problems(age_band: str, area: str) -> dict[str, str]:
    """What is wrong with the profile's answers, per field (empty: fine)."""
    errors = {}
    if age_band not in AGE_BANDS:
        errors["age_band"] = "年代を選んでください。"
    if area not in AREAS:
        errors["area"] = "お住まいの地区を選んでください。"
    return errors


def set_profile(db: Session, clock, person: Person, age_band: str, area: str) -> Person:
    errors = problems(age_band, area)
    if errors:
        raise Invalid("入力内容を確認してください。", details=errors)
    person.age_band = age_band
    person.area = area
    if person.profile_at is None:
        person.profile_at = clock.now()
    db.flush()
    return person
