"""The agent's look-ups, built for a caller on the line: a resident by the number on their help
page (`ref`, read out with or without dashes, full-width digits too), by a confirmation code or
by LINE display name; a store by code, name or phone.

Personal data only with a reason (D-1): every look-up of a resident names an inquiry that is not
closed (REASON_REQUIRED otherwise) and writes an access record per resident shown. Staff see
residents by `person_ref`, never by LINE user id; store bank accounts are masked.
"""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from kariya.audit import access
from kariya.audit.access import Viewer
from kariya.callcenter import answers, inquiries, reading, reminders, timeline, transfers
from kariya.callcenter.calendar import BusinessCalendar
from kariya.callcenter.models import Inquiry
from kariya.campaign.models import Round
from kariya.clock import to_jst
from kariya.coupons import acquisition
from kariya.coupons.models import Acquisition, Coupon
from kariya.errors import Invalid, NotFound
from kariya.redemptions.models import Redemption
from kariya.residents import refs
from kariya.residents.models import Person
from kariya.stores.finder import search_key
from kariya.stores.models import Store
from workflows import coupon as coupon_wf
from workflows import inquiry as inquiry_wf
from workflows import store as store_wf
from workflows.binding import label, sources

RESULTS_MAX = 20
QUERY_MAX = 100
CODE = re.compile(r"[2-9A-HJ-NP-Z]{6}")


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _query(q) -> str:
    text = unicodedata.normalize("NFKC", q).strip() if isinstance(q, str) else ""
    if not text:
        raise Invalid("検索する内容(お客さま番号・確認コード・表示名)を入力してください。")
    return text[:QUERY_MAX]


def residents(db: Session, q: str) -> list[Person]:
    """Residents matching a ref, a confirmation code or a display name (no record written)."""
    text = _query(q)
    found: dict[int, Person] = {}
    ref = refs.parse(text)
    if ref is not None:
        for person in db.scalars(select(Person).where(Person.ref == ref)):
            found[person.id] = person
    code = inquiries.normalise_code(text)
    if CODE.fullmatch(code):
        for person in db.scalars(
            select(Person)
            .join(Redemption, Redemption.person_id == Person.id)
            .where(Redemption.confirmation_code == code)
            .distinct()
        ):
            found[person.id] = person
    if len(found) < RESULTS_MAX and not (ref or text.replace("-", "").isdigit()):
        for person in db.scalars(
            select(Person)
            .where(Person.display_name.ilike(_like(text), escape="\\"))
            .order_by(Person.display_name, Person.id)
            .limit(RESULTS_MAX)
        ):
            found.setdefault(person.id, person)
    return list(found.values())[:RESULTS_MAX]


def search_residents(db: Session, clock, viewer: Viewer, q, inquiry_id) -> list[Person]:
    """GET /api/v1/staff/residents: the reason first, then the search; one access record per
    resident shown (or one for a search that found nobody)."""
    inquiry = inquiries.reason(db, inquiry_id)
    found = residents(db, q)
    now = clock.now()
    detail = f"q={_query(q)}"
    for person in found or [None]:
        access.record(
            db,
            now,
            viewer,
            access.SEARCH,
            subject=person.ref if person else "",
            inquiry_id=inquiry.id,
            detail=detail,
        )
    return found


def resident_brief(person: Person) -> dict:
    """A resident as a search lists them (a withdrawn one has no name left: the pages say
    退会済み; the JSON keeps the shape of DESIGN §5.2)."""
    return {"person_ref": person.ref, "display_name": person.display_name}


def person_for_ref(db: Session, person_ref) -> Person:
    person = inquiries.person_by_ref(db, person_ref)
    if person is None:
        raise NotFound("このお客さま番号の市民は見つかりません。")
    return person


def view_resident(db: Session, clock, viewer: Viewer, person: Person, inquiry_id) -> None:
    """Record that `person`'s data is shown for the inquiry (the reason is checked first)."""
    inquiry = inquiries.reason(db, inquiry_id)
    access.record(db, clock.now(), viewer, access.VIEW, subject=person.ref, inquiry_id=inquiry.id)


def resident_json(db: Session, person: Person) -> dict:
    """The resident's record for the staff JSON: profile, and each round acquired with its
    coupons by state and its uses (voided ones with the time of the void)."""
    rounds = db.execute(
        select(Round, Acquisition)
        .join(Acquisition, Acquisition.round_id == Round.id)
        .where(Acquisition.person_id == person.id)
        .order_by(Round.number)
    ).all()
    counts = {
        (round_id, state): int(n)
        for round_id, state, n in db.execute(
            select(Coupon.round_id, Coupon.state, func.count())
            .where(Coupon.person_id == person.id)
            .group_by(Coupon.round_id, Coupon.state)
        )
    }
    uses: dict[int, list[dict]] = {}
    for use, code in db.execute(
        select(Redemption, Store.code)
        .join(Store, Store.id == Redemption.store_id)
        .where(Redemption.person_id == person.id)
        .order_by(Redemption.used_at)
    ):
        uses.setdefault(use.round_id, []).append(
            {
                "confirmation_code": use.confirmation_code,
                "store_code": code,
                "coupons": use.coupons,
                "amount": use.amount,
                "used_at": to_jst(use.used_at).isoformat(),
                "voided_at": to_jst(use.voided_at).isoformat() if use.voided_at else None,
            }
        )
    return {
        "person_ref": person.ref,
        "display_name": person.display_name,
        "profile": {"age_band": person.age_band, "area": person.area}
        if person.has_profile and not person.withdrawn
        else None,
        "rounds": [
            {
                "round": rnd.number,
                "acquired_at": to_jst(acquisition.created_at).isoformat(),
                "coupons": {
                    state: counts.get((rnd.id, state), 0)
                    for state in (coupon_wf.S.issued, coupon_wf.S.used, coupon_wf.S.expired)
                },
                "uses": uses.get(rnd.id, []),
            }
            for rnd, acquisition in rounds
        ],
    }


# -- stores -----------------------------------------------------------------------------------


def mask_account(number: str) -> str:
    """An account number as agents see it: all but the last two digits hidden."""
    digits = (number or "").strip()
    if not digits:
        return ""
    return "*" * max(0, len(digits) - 2) + digits[-2:]


def stores(db: Session, q) -> list[Store]:
    """Stores by code, by name (kanji or kana, folded as residents' search does) or by phone,
    in any registration state."""
    text = _query(q)
    conditions = [Store.code == text.upper()]
    key = search_key(text)
    if key:
        conditions.append(Store.search_text.like(_like(key), escape="\\"))
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 4:
        phone = func.replace(func.replace(Store.phone, "-", ""), " ", "")
        conditions.append(phone.like(_like(digits), escape="\\"))
    return list(
        db.scalars(select(Store).where(or_(*conditions)).order_by(Store.code).limit(RESULTS_MAX))
    )


def store_card(store: Store) -> dict:
    """What an agent sees of a store: no bank account number (masked), nothing to change."""
    return {
        "code": store.code,
        "name": store.name,
        "kana": store.kana,
        "state": store.state,
        "state_label": label(store_wf.MACHINE, store.state),
        "category": store.category,
        "address": store.address,
        "phone": store.phone,
        "hours": store.hours,
        "account": (
            f"{store.bank_code}-{store.branch_code} {mask_account(store.account_number)}"
            if store.account_number
            else "未登録"
        ),
    }


# -- the console's screens ----------------------------------------------------------------------


def desk(db: Session, clock, settings, viewer: Viewer, q: str = "") -> dict:
    """The console's home: the round as residents see it, the call centre's hours, the form to
    log a call, the queue, the caller's store (stores need no reason) and the warnings."""
    now = clock.now()
    active = list(
        db.scalars(
            select(Inquiry)
            .where(Inquiry.state.in_(inquiries.ACTIVE_STATES))
            .order_by(Inquiry.due_at)
            .limit(200)
        )
    )
    found_stores = stores(db, q) if q.strip() else []
    return {
        "status": acquisition.round_status(db, clock, None),
        "hours": BusinessCalendar.of(settings).status(now),
        "now": now,
        "mine": [i for i in active if i.assignee == viewer.actor],
        "queue": [i for i in active if i.state == inquiry_wf.S.new],
        "answered": [i for i in active if i.state == inquiry_wf.S.answered],
        "warnings": reminders.warnings(db, now),
        "refs": reading.references(db, active),
        "q": q,
        "stores": [store_card(s) for s in found_stores],
    }


def case(
    db: Session,
    clock,
    settings,
    viewer: Viewer,
    inquiry,
    q: str = "",
    manual: answers.Manual | None = None,
) -> dict:
    """One inquiry on the console: its journal (the notes quoting an older version than
    `manual`, the published answer manual, marked) and next steps, the linked resident's
    timeline with the manual's passages (a look-up, so an access record; only while the inquiry
    is a reason), look-ups for it and its transfer requests. The manual itself, beside the
    console, is the view's (views.callcenter.documents.panel)."""
    now = clock.now()
    refs_of = reading.references(db, [inquiry])[inquiry.id]
    is_reason = inquiry.state in inquiries.REASON_STATES
    person = db.get(Person, inquiry.person_id) if inquiry.person_id else None
    record = None
    entries: list = []
    if person is not None and is_reason:
        view_resident(db, clock, viewer, person, inquiry.id)
        record = resident_json(db, person)
        entries = timeline.build(db, person, now, manual)
    found_people: list[Person] = []
    found_stores: list[Store] = []
    if q.strip():
        found_stores = stores(db, q)
        if is_reason:
            found_people = search_residents(db, clock, viewer, q, inquiry.id)
    events = reading.events(db, inquiry)
    steps = [
        e
        for e in inquiries.EVENTS
        if inquiry.state in sources(inquiry_wf.MACHINE, e) and e not in inquiries.CITY_EVENTS
    ]
    found_transfers = transfers.of_inquiry(db, inquiry.id)
    return {
        "inquiry": inquiry,
        "refs": refs_of,
        "events": events,
        "outdated": {e.id for e in events if answers.outdated(e.manual_version, manual)},
        "steps": steps,
        "person": person,
        "record": record,
        "timeline": entries,
        "is_reason": is_reason,
        "store": db.get(Store, inquiry.store_id) if inquiry.store_id else None,
        "q": q,
        "people": found_people,
        "stores": [store_card(s) for s in found_stores],
        "transfers": found_transfers,
        "transfer_people": transfers.people_of(db, found_transfers),
        "now": now,
    }
