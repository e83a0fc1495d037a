"""Residents' consent to the terms and privacy notice (I-1, D-1; DESIGN.md section 5.1).

A person agrees to the published version of the `terms` document at their first visit; the
version and the time are recorded (terms_consent). When a newer version is published, they
need to agree again (`needs_consent`) before their next acquisition: the acquisition's claim
statement carries `satisfied(...)` in its WHERE clause, so the check costs no round trip of its
own (kariya.coupons.acquisition). Before any terms are published there is nothing to agree to.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, literal, select
from sqlalchemy.orm import Session

from kariya.documents import kinds
from kariya.documents.models import Document, DocumentVersion, TermsConsent
from kariya.errors import Invalid
from kariya.orm import insert_or_skip
from kariya.residents import profiles
from kariya.residents.models import Person
from workflows import document as document_wf

REQUIRED = "利用規約とプライバシーポリシーへの同意が必要です。"


def _current_terms():
    return (
        select(DocumentVersion.number)
        .join(Document, Document.id == DocumentVersion.document_id)
        .where(Document.kind == kinds.TERMS, DocumentVersion.state == document_wf.S.published)
        .scalar_subquery()
    )


def _agreed(person_id) -> ColumnElement:
    return (
        select(func.max(TermsConsent.version))
        .where(TermsConsent.person_id == person_id)
        .scalar_subquery()
    )


def satisfied(person_id) -> ColumnElement[bool]:
    """SQL: the person (an id, or a column such as Person.id) has agreed to the published terms,
    or none are published. Two index lookups inside the statement that carries it."""
    return func.coalesce(_agreed(person_id), 0) >= func.coalesce(_current_terms(), 0)


def current_terms(db: Session) -> int | None:
    """The published version number of the terms (GET /api/v1/profile-options' terms_version)."""
    return db.scalar(select(_current_terms()))


def status(db: Session, person_id: int) -> tuple[int | None, int | None]:
    """(the published terms version, the newest version this person agreed to), one query."""
    row = db.execute(select(_current_terms(), _agreed(literal(person_id)))).one()
    return row[0], row[1]


def needs_consent(db: Session, person_id: int) -> bool:
    return _needs(*status(db, person_id))


def parse_version(value) -> int | None:
    """A version as sent: 3 or "3" (anything else is no version)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value or "").strip()
    return int(text) if text.isdigit() else None


def _record(db: Session, clock, person_id: int, version: int) -> None:
    db.execute(
        insert_or_skip(db, TermsConsent, on=["person_id", "version"]).values(
            person_id=person_id, version=version, agreed_at=clock.now()
        )
    )


def _problem(current: int | None, agreed: int | None, sent) -> str | None:
    """Why the agreement sent (`sent`: the version the person was shown, maybe nothing) does
    not do, or None."""
    if current is None or parse_version(sent) == current:
        return None
    if sent not in (None, ""):
        return (
            f"利用規約とプライバシーポリシーが改定されています。最新の内容(第{current}版)を"
            "ご確認のうえ、同意してください。"
        )
    return REQUIRED if (agreed or 0) < current else None


def _needs(current: int | None, agreed: int | None) -> bool:
    return current is not None and (agreed or 0) < current


def agree(db: Session, clock, person: Person, sent) -> None:
    """The person agrees to the published terms (again, after a new version)."""
    current, agreed = status(db, person.id)
    problem = _problem(current, agreed, sent)
    if problem:
        raise Invalid(problem, details={"agree": problem})
    if _needs(current, agreed):
        _record(db, clock, person.id, current)


def carry_over(db: Session, from_person_id: int, to_person_id: int) -> None:
    """A lost-phone transfer (kariya.callcenter.transfers): the resident's new record holds the
    agreements their old record gave, each with its time; the old record keeps its own rows."""
    given = select(literal(to_person_id), TermsConsent.version, TermsConsent.agreed_at).where(
        TermsConsent.person_id == from_person_id
    )
    db.execute(
        insert_or_skip(db, TermsConsent, on=["person_id", "version"]).from_select(
            ["person_id", "version", "agreed_at"], given
        )
    )


def save_profile(
    db: Session, clock, person: Person, age_band: str, area: str, agreed_terms=None
) -> Person:
    """The first-visit form and its later edits (I-1): the profile, and the agreement to the
    published terms when the person has not agreed to them yet. All or nothing."""
    errors = profiles.problems(age_band, area)
    current, agreed = status(db, person.id)
    problem = _problem(current, agreed, agreed_terms)
    if problem:
        errors["agree"] = problem
    if errors:
        raise Invalid("入力内容を確認してください。" + "".join(errors.values()), details=errors)
    profiles.set_profile(db, clock, person, age_band, area)
    if _needs(current, agreed):
        _record(db, clock, person.id, current)
    return person
