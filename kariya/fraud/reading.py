"""Reading the fraud cases (the secretariat's and the city's screens, DESIGN §5.2 JSON, the
dashboard's figure per rule). Residents appear as their `person_ref` with age band and area,
never with a LINE id or a name; every look at a case's evidence is an access record (D-1)."""

from __future__ import annotations

import json

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kariya.audit import access
from kariya.audit.access import Viewer
from kariya.clock import to_jst
from kariya.errors import Invalid
from kariya.fraud import rules as fraud_rules
from kariya.fraud.cases import evidence_total
from kariya.fraud.models import FraudCase, FraudEvidence
from kariya.payouts import holds
from kariya.payouts.models import BankChangeRequest, PayoutAdjustment
from kariya.redemptions.models import Redemption
from kariya.residents.models import Person
from kariya.residents.options import AGE_BANDS, AREAS
from kariya.stores.models import Store
from workflows import fraud as fraud_wf
from workflows.binding import TransitionRecord, label

VIEW_ACTION = "fraud.view"
LIST_LIMIT = 500
EVIDENCE_LIMIT = 500  # uses shown on a case's page (the count says how many there are)


def state_label(state: str) -> str:
    return label(fraud_wf.MACHINE, state)


def parse_states(value) -> list[str] | None:
    """`state=` of the list: empty for every case, `open` for the open ones, or states separated
    by commas."""
    text = (value or "").strip() if isinstance(value, str) else ""
    if not text:
        return None
    if text == "open":
        return list(fraud_wf.OPEN)
    states = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in states if s not in fraud_wf.S]
    if unknown:
        raise Invalid(
            f"state は {', '.join(fraud_wf.STATES)}(または open)のいずれかです: {', '.join(unknown)}"
        )
    return states


def listing(db: Session, *, states: list[str] | None = None, limit: int = LIST_LIMIT) -> list[dict]:
    """The cases, newest first, with their subject and how many uses their evidence holds."""
    uses = (
        select(FraudEvidence.case_id, func.count(FraudEvidence.redemption_id).label("uses"))
        .group_by(FraudEvidence.case_id)
        .subquery()
    )
    query = (
        select(
            FraudCase,
            Store.code,
            Store.name,
            Person.ref,
            func.coalesce(uses.c.uses, 0),
        )
        .outerjoin(Store, Store.id == FraudCase.store_id)
        .outerjoin(Person, Person.id == FraudCase.person_id)
        .outerjoin(uses, uses.c.case_id == FraudCase.id)
        .order_by(FraudCase.opened_at.desc(), FraudCase.id.desc())
        .limit(limit)
    )
    if states:
        query = query.where(FraudCase.state.in_(states))
    return [
        {
            "case": case,
            "store_code": code,
            "store_name": name,
            "person_ref": ref,
            "uses": int(n),
            "rule_label": fraud_rules.label(case.rule),
            "state_label": state_label(case.state),
        }
        for case, code, name, ref, n in db.execute(query)
    ]


def subject_text(db: Session, case: FraudCase) -> str:
    """The case's subject as the CLI prints it: a store's code, a resident's ref."""
    if case.store_id is not None:
        return f"store {db.get(Store, case.store_id).code}"
    return f"resident {db.get(Person, case.person_id).ref}"


def case_json(row: dict) -> dict:
    """One case as DESIGN §5.2 lists it."""
    case = row["case"]
    return {
        "id": case.id,
        "rule": case.rule,
        "store_code": row["store_code"],
        "person_ref": row["person_ref"],
        "state": case.state,
        "opened_at": to_jst(case.opened_at).isoformat(),
        "uses": row["uses"],
    }


def record_list(db: Session, clock, viewer: Viewer, rows: list[dict]) -> None:
    """A list naming residents (their refs) is a look at them."""
    refs = [r["person_ref"] for r in rows if r["person_ref"]]
    if refs:
        access.record(
            db,
            clock.now(),
            viewer,
            VIEW_ACTION,
            subject="fraud_cases",
            detail=f"不正検知の案件の一覧(市民 {len(refs)}人)",
        )


def detail(db: Session, clock, viewer: Viewer, case: FraudCase) -> dict:
    """Everything a reviewer reads about a case: the figures against the norm, the evidence
    (uses, residents, account changes), its history and what it did to the store's payments.
    Recorded in the access log."""
    store = db.get(Store, case.store_id) if case.store_id else None
    person = db.get(Person, case.person_id) if case.person_id else None
    rule = fraud_rules.BY_CODE.get(case.rule)
    figures = json.loads(case.figures or "{}")
    uses = [
        {
            "id": r.id,
            "confirmation_code": r.confirmation_code,
            "used_at": r.used_at,
            "store_code": code,
            "store_name": name,
            "person_ref": ref,
            "coupons": r.coupons,
            "amount": r.amount,
            "bill_amount": r.bill_amount,
            "state": r.state,
            "voided_at": r.voided_at,
        }
        for r, code, name, ref in db.execute(
            select(Redemption, Store.code, Store.name, Person.ref)
            .join(FraudEvidence, FraudEvidence.redemption_id == Redemption.id)
            .join(Store, Store.id == Redemption.store_id)
            .join(Person, Person.id == Redemption.person_id)
            .where(FraudEvidence.case_id == case.id)
            .order_by(Redemption.used_at, Redemption.id)
            .limit(EVIDENCE_LIMIT)
        )
    ]
    n_uses = db.scalar(
        select(func.count(FraudEvidence.redemption_id)).where(FraudEvidence.case_id == case.id)
    )
    standing, standing_amount = evidence_total(db, case)
    persons = [
        {
            "ref": p.ref,
            "age_band": AGE_BANDS.get(p.age_band or "", p.age_band or "未回答"),
            "area": AREAS.get(p.area or "", p.area or "未回答"),
            "created_at": p.created_at,
        }
        for p in db.scalars(
            select(Person)
            .join(FraudEvidence, FraudEvidence.person_id == Person.id)
            .where(FraudEvidence.case_id == case.id)
            .order_by(Person.created_at, Person.id)
        )
    ]
    bank = list(
        db.scalars(
            select(BankChangeRequest)
            .join(FraudEvidence, FraudEvidence.bank_change_id == BankChangeRequest.id)
            .where(FraudEvidence.case_id == case.id)
        )
    )
    history = list(
        db.scalars(
            select(TransitionRecord)
            .where(
                TransitionRecord.machine == fraud_wf.MACHINE.kariya_name,
                TransitionRecord.entity_id == case.id,
            )
            .order_by(TransitionRecord.at, TransitionRecord.id)
        )
    )
    adjustment = db.get(PayoutAdjustment, case.adjustment_id) if case.adjustment_id else None
    access.record(
        db,
        clock.now(),
        viewer,
        VIEW_ACTION,
        subject=person.ref if person else f"fraud_case:{case.id}",
        detail=f"不正検知の案件 No.{case.id} の証拠(利用 {n_uses}件・市民 {len(persons)}人)",
    )
    return {
        "case": case,
        "rule_label": fraud_rules.label(case.rule),
        "explain": rule.explain if rule else "",
        "state_label": state_label(case.state),
        "figures": figures,
        "summary": case.summary or fraud_rules.describe(case.rule, figures),
        "store": store,
        "person": person,
        "person_profile": (
            {
                "age_band": AGE_BANDS.get(person.age_band or "", "未回答"),
                "area": AREAS.get(person.area or "", "未回答"),
            }
            if person
            else None
        ),
        "uses": uses,
        "uses_count": int(n_uses or 0),
        "standing": standing,
        "standing_amount": standing_amount,
        "persons": persons,
        "bank_changes": bank,
        "history": [
            {
                "at": h.at,
                "actor": h.actor,
                "event": h.event,
                "event_label": fraud_wf.LABELS.get(f"event:{h.event}", h.event),
                "from": h.from_state,
                "to": h.to_state,
                "note": h.reason,
            }
            for h in history
        ],
        "holds": holds.of_store(db, store.id) if store else [],
        "adjustment": adjustment,
        "events": next_events(case),
    }


def next_events(case: FraudCase) -> list[str]:
    """The events the machine allows from the case's state (the buttons; the role decides who)."""
    return [
        name for name, event in fraud_wf.MACHINE.events.items() if case.state in event.transitions
    ]


def detail_json(data: dict) -> dict:
    case = data["case"]
    return {
        "id": case.id,
        "rule": case.rule,
        "rule_label": data["rule_label"],
        "state": case.state,
        "store_code": data["store"].code if data["store"] else None,
        "person_ref": data["person"].ref if data["person"] else None,
        "opened_at": to_jst(case.opened_at).isoformat(),
        "summary": data["summary"],
        "figures": data["figures"],
        "uses": [
            {
                "confirmation_code": u["confirmation_code"],
                "used_at": to_jst(u["used_at"]).isoformat(),
                "store_code": u["store_code"],
                "person_ref": u["person_ref"],
                "coupons": u["coupons"],
                "amount": u["amount"],
                "state": u["state"],
            }
            for u in data["uses"]
        ],
        "residents": [{"person_ref": p["ref"]} for p in data["persons"]],
        "events": [
            {
                "at": to_jst(h["at"]).isoformat(),
                "actor": h["actor"],
                "event": h["event"],
                "from": h["from"],
                "to": h["to"],
                "note": h["note"],
            }
            for h in data["history"]
        ],
        "adjustment_id": case.adjustment_id,
    }


def per_rule(db: Session, campaign_id: int) -> list[dict]:
    """The dashboard's figure per rule: cases raised, open (flagged, under review), confirmed
    and cleared."""
    counts = {
        (rule, state): int(n)
        for rule, state, n in db.execute(
            select(FraudCase.rule, FraudCase.state, func.count())
            .where(FraudCase.campaign_id == campaign_id)
            .group_by(FraudCase.rule, FraudCase.state)
        )
    }
    rows = []
    for rule in fraud_rules.RULES:
        by_state = {s: counts.get((rule.code, s), 0) for s in fraud_wf.STATES}
        rows.append(
            {
                "rule": rule.code,
                "label": rule.label,
                "raised": sum(by_state.values()),
                "flagged": by_state[fraud_wf.S.flagged],
                "under_review": by_state[fraud_wf.S.under_review],
                "confirmed": by_state[fraud_wf.S.confirmed],
                "cleared": by_state[fraud_wf.S.cleared],
            }
        )
    return rows
