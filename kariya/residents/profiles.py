"""Residents: created at their first login, with a one-time profile (I-1) and a pseudonymous
reference (`ref`, DESIGN.md section 5.1). The agreement to the terms that the first visit also
asks for is kariya.documents.consent's (it knows the published terms)."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kariya.errors import Invalid
from kariya.residents.models import Person
from kariya.residents.options import AGE_BANDS, AREAS

# A person's ref is read out on the telephone: no 0/O, 1/I/L look-alikes.
REF_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
REF_LENGTH = 10


def new_ref() -> str:
    """A random reference, unrelated to the LINE user id (about 10^15 possibilities)."""
    return "".join(secrets.choice(REF_ALPHABET) for _ in range(REF_LENGTH))


def get_or_create(db: Session, clock, line_user_id: str, display_name: str = "") -> Person:
    if len(line_user_id) > 64:
        raise Invalid("LINE のユーザーIDが正しくありません。")
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    db.execute(
        dialect.insert(Person)
        .values(
            line_user_id=line_user_id,
            ref=new_ref(),
            display_name=display_name[:100],
            created_at=clock.now(),
        )
        .on_conflict_do_nothing(index_elements=["line_user_id"])
    )
    person = db.scalar(select(Person).where(Person.line_user_id == line_user_id))
    if display_name and person.display_name != display_name[:100]:
        person.display_name = display_name[:100]
    return person


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
