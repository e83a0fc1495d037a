"""Reading inquiries: the lists, the journal and the staff JSON shapes of DESIGN.md 5.2
(residents by `person_ref`, never by LINE user id), and the city's waiting escalations."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from kariya import roles
from kariya.callcenter.inquiries import calendar
from kariya.callcenter.models import Inquiry, InquiryEvent
from kariya.clock import to_jst
from kariya.errors import Invalid
from kariya.redemptions.models import Redemption
from kariya.residents.models import Person
from kariya.settings import Settings
from kariya.stores.models import Store
from workflows import inquiry as inquiry_wf


def listing(
    db: Session,
    role: str,
    *,
    states: list[str] | None = None,
    escalated: bool | None = None,
    limit: int = 500,
) -> list[Inquiry]:
    query = select(Inquiry).order_by(Inquiry.id.desc()).limit(limit)
    if role == roles.CITY or escalated:
        query = query.where(Inquiry.escalated_at.is_not(None))
    elif escalated is False:
        query = query.where(Inquiry.escalated_at.is_(None))
    if states:
        query = query.where(Inquiry.state.in_(states))
    return list(db.scalars(query))


def parse_states(value: str | None) -> list[str] | None:
    if not value:
        return None
    states = [s.strip() for s in value.split(",") if s.strip()]
    unknown = [s for s in states if s not in inquiry_wf.S]
    if unknown:
        raise Invalid(f"state は {', '.join(inquiry_wf.STATES)} のいずれかです。")
    return states


def references(db: Session, found: list[Inquiry]) -> dict[int, dict]:
    """person_ref, store_code and confirmation_code of each inquiry, in three queries."""
    person_ids = {i.person_id for i in found if i.person_id}
    store_ids = {i.store_id for i in found if i.store_id}
    use_ids = {i.redemption_id for i in found if i.redemption_id}
    people = (
        dict(db.execute(select(Person.id, Person.ref).where(Person.id.in_(person_ids))).all())
        if person_ids
        else {}
    )
    stores = (
        dict(db.execute(select(Store.id, Store.code).where(Store.id.in_(store_ids))).all())
        if store_ids
        else {}
    )
    uses = (
        dict(
            db.execute(
                select(Redemption.id, Redemption.confirmation_code).where(
                    Redemption.id.in_(use_ids)
                )
            ).all()
        )
        if use_ids
        else {}
    )
    return {
        i.id: {
            "person_ref": people.get(i.person_id),
            "store_code": stores.get(i.store_id),
            "confirmation_code": uses.get(i.redemption_id),
        }
        for i in found
    }


def _iso(value: dt.datetime | None) -> str | None:
    return to_jst(value).isoformat() if value is not None else None


def summary_json(inquiry: Inquiry, refs_of: dict) -> dict:
    return {
        "id": inquiry.id,
        "state": inquiry.state,
        "category": inquiry.category,
        "subject": inquiry.subject,
        "caller_type": inquiry.caller_type,
        "person_ref": refs_of.get("person_ref"),
        "store_code": refs_of.get("store_code"),
        "confirmation_code": refs_of.get("confirmation_code"),
        "received_at": _iso(inquiry.received_at),
        "escalated_at": _iso(inquiry.escalated_at),
        "due_at": _iso(inquiry.due_at),
    }


def events(db: Session, inquiry: Inquiry) -> list[InquiryEvent]:
    return list(
        db.scalars(
            select(InquiryEvent)
            .where(InquiryEvent.inquiry_id == inquiry.id)
            .order_by(InquiryEvent.at, InquiryEvent.id)
        )
    )


def event_json(event: InquiryEvent) -> dict:
    return {
        "at": _iso(event.at),
        "actor": event.actor,
        "event": event.event,
        "from": event.from_state,
        "to": event.to_state,
        "note": event.note,
    }


def detail_json(db: Session, inquiry: Inquiry) -> dict:
    body = summary_json(inquiry, references(db, [inquiry])[inquiry.id])
    body.update(
        {
            "channel": inquiry.channel,
            "body": inquiry.body,
            "payout_line_id": inquiry.payout_line_id,
            "assignee": inquiry.assignee,
            "escalation_summary": inquiry.escalation_summary,
            "answered_at": _iso(inquiry.answered_at),
            "answer": inquiry.answer,
            "resolved_at": _iso(inquiry.resolved_at),
            "closed_at": _iso(inquiry.closed_at),
            "merged_into": inquiry.merged_into_id,
            "events": [event_json(e) for e in events(db, inquiry)],
        }
    )
    return body


def waiting_for_city(db: Session) -> list[Inquiry]:
    """Escalations the city has not answered yet, oldest first (the city's home page)."""
    return list(
        db.scalars(
            select(Inquiry)
            .where(Inquiry.state == inquiry_wf.S.escalated)
            .order_by(Inquiry.escalated_at)
        )
    )


def business_age(settings: Settings, since: dt.datetime, now: dt.datetime) -> float:
    """Business hours since `since` (Q-2), one decimal."""
    return round(calendar(settings).between(since, now).total_seconds() / 3600, 1)
