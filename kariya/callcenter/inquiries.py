"""Inquiries (Q-1): logged by an agent, moved through workflows.inquiry, every transition and
note journaled (who, when, from, to, the note), timed in business hours (Q-2).

The rules of who may do what live here as well as in the permissions: the city only answers
escalations (and sees only escalated inquiries); agents and the secretariat do the rest. A
transition is a compare-and-set on the row (workflows.binding.fire), so of two agents taking
the same inquiry at once one wins and the other is refused with BAD_TRANSITION.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import unicodedata

from sqlalchemy import select
from sqlalchemy.orm import Session

from kariya import roles
from kariya.audit.access import Viewer
from kariya.callcenter import categories
from kariya.callcenter.calendar import BusinessCalendar
from kariya.callcenter.models import CALLER_TYPES, CHANNELS, Inquiry, InquiryEvent
from kariya.clock import to_jst
from kariya.errors import Conflict, DomainError, Forbidden, IllegalTransition, Invalid, NotFound
from kariya.mail import outbox
from kariya.payouts.models import PayoutLine
from kariya.redemptions.models import Redemption
from kariya.residents import refs
from kariya.residents.models import Person
from kariya.settings import Settings
from kariya.stores.models import Store
from workflows import inquiry as inquiry_wf
from workflows.binding import fire, label, sources

EVENTS = tuple(inquiry_wf.MACHINE.events)
# Only the city answers an escalation; only the call centre's side does the rest.
CITY_EVENTS = frozenset({"answer"})
CALL_CENTRE_ROLES = frozenset({roles.AGENT, roles.SECRETARIAT})
NOTE_REQUIRED = frozenset({"escalate", "answer"})
# A look-up of personal data needs an inquiry in one of these states as its reason (D-1).
REASON_STATES = frozenset(
    s for s in inquiry_wf.S if s not in (inquiry_wf.S.closed, inquiry_wf.S.merged)
)
# The due clock runs in these states (it pauses while waiting on the caller).
TIMED_STATES = (
    inquiry_wf.S.new,
    inquiry_wf.S.open,
    inquiry_wf.S.escalated,
    inquiry_wf.S.answered,
)
ACTIVE_STATES = sources(inquiry_wf.MACHINE, "merge")
SUBJECT_MAX = 200
BODY_MAX = 4000
NOTE_MAX = 4000


class BadTransition(Conflict):
    code = "BAD_TRANSITION"


class ReasonRequired(DomainError):
    code = "REASON_REQUIRED"
    status = 422
    message = (
        "個人情報を見るには、その理由となる対応中のお問い合わせを選んでください"
        "(完了したお問い合わせは理由になりません)。"
    )


def state_label(state: str) -> str:
    return label(inquiry_wf.MACHINE, state)


def event_label(event: str) -> str:
    return inquiry_wf.MACHINE.kariya_labels.get(f"event:{event}", event)


def calendar(settings: Settings) -> BusinessCalendar:
    return BusinessCalendar.of(settings)


def _clean(value, limit: int, what: str, *, required: bool = False) -> str:
    text = unicodedata.normalize("NFKC", value).strip() if isinstance(value, str) else ""
    if value is not None and not isinstance(value, str):
        raise Invalid(f"{what}は文字列で入力してください。")
    if required and not text:
        raise Invalid(f"{what}を入力してください。")
    if len(text) > limit:
        raise Invalid(f"{what}は{limit:,}文字以内で入力してください。")
    return text


def normalise_code(value) -> str:
    """A confirmation code as read out or typed: full-width, lower case and spaces allowed."""
    if not isinstance(value, str):
        return ""
    return "".join(unicodedata.normalize("NFKC", value).upper().split())


def person_by_ref(db: Session, value) -> Person | None:
    ref = refs.parse(value if isinstance(value, str) else None)
    if ref is None:
        return None
    return db.scalar(select(Person).where(Person.ref == ref))


def redemption_by_code(db: Session, code: str, person_id: int | None = None) -> Redemption | None:
    """The use with this confirmation code (the person's own first, then the newest)."""
    if not code:
        return None
    query = select(Redemption).where(Redemption.confirmation_code == code)
    if person_id is not None:
        found = db.scalar(
            query.where(Redemption.person_id == person_id).order_by(Redemption.used_at.desc())
        )
        if found is not None:
            return found
    return db.scalar(query.order_by(Redemption.used_at.desc()))


def _deadlines(inquiry: Inquiry, cal: BusinessCalendar, settings: Settings) -> None:
    warn = dt.timedelta(hours=settings.callcenter.due_warning_business_hours)
    inquiry.warn_at = cal.subtract(inquiry.due_at, warn) if warn else inquiry.due_at


def create(
    db: Session,
    clock,
    settings: Settings,
    viewer: Viewer,
    *,
    caller_type,
    channel,
    category,
    subject,
    body="",
    person_ref=None,
    store_code=None,
    confirmation_code=None,
    payout_line_id=None,
) -> Inquiry:
    """Log a call (state new), linked to the records it concerns. Unknown references are
    refused (422 INVALID), so an inquiry never points at nothing."""
    if viewer.role not in CALL_CENTRE_ROLES:
        raise Forbidden()
    problems = {}
    if caller_type not in CALLER_TYPES:
        problems["caller_type"] = "お問い合わせの相手(市民・登録店・その他)を選んでください。"
    if channel not in CHANNELS:
        problems["channel"] = "受付方法(電話・メール・その他)を選んでください。"
    code = categories.parse(category)
    if code is None:
        problems["category"] = "分類を選んでください。"
    if problems:
        raise Invalid("入力内容を確認してください。", details=problems)
    subject = _clean(subject, SUBJECT_MAX, "件名", required=True)
    body = _clean(body, BODY_MAX, "内容")
    person = store = redemption = line = None
    if person_ref not in (None, ""):
        person = person_by_ref(db, person_ref)
        if person is None:
            raise Invalid("お客さま番号が見つかりません。番号を確認してください。")
    if store_code not in (None, ""):
        store = db.scalar(
            select(Store).where(
                Store.code == unicodedata.normalize("NFKC", str(store_code)).strip()
            )
        )
        if store is None:
            raise Invalid("店舗コードが見つかりません。")
    if confirmation_code not in (None, ""):
        redemption = redemption_by_code(
            db, normalise_code(confirmation_code), person.id if person else None
        )
        if redemption is None:
            raise Invalid("確認コードが見つかりません。コードを確認してください。")
    if payout_line_id not in (None, ""):
        try:
            line = db.get(PayoutLine, int(payout_line_id))
        except (TypeError, ValueError):
            line = None
        if line is None:
            raise Invalid("支払明細が見つかりません。")
    if redemption is not None:
        person_id = person.id if person else redemption.person_id
        store_id = store.id if store else redemption.store_id
    else:
        person_id = person.id if person else None
        store_id = store.id if store else (line.store_id if line else None)
    now = clock.now()
    cal = calendar(settings)
    inquiry = Inquiry(
        state=inquiry_wf.S.new,
        caller_type=caller_type,
        channel=channel,
        category=code,
        subject=subject,
        body=body,
        person_id=person_id,
        store_id=store_id,
        redemption_id=redemption.id if redemption else None,
        payout_line_id=line.id if line else None,
        received_at=now,
        created_by=viewer.actor,
        due_at=cal.add_hours(now, settings.callcenter.due_business_hours),
        escalation_summary="",
        answer="",
        updated_at=now,
    )
    _deadlines(inquiry, cal, settings)
    db.add(inquiry)
    db.flush()
    return inquiry


def get(db: Session, inquiry_id) -> Inquiry:
    try:
        found = db.get(Inquiry, int(inquiry_id))
    except (TypeError, ValueError, OverflowError):
        found = None
    if found is None:
        raise NotFound("お問い合わせが見つかりません。")
    return found


def visible(inquiry: Inquiry, role: str) -> bool:
    """The city sees the inquiries escalated to it; the call centre's side sees them all."""
    if role == roles.CITY:
        return inquiry.escalated_at is not None
    return role in CALL_CENTRE_ROLES


def get_for(db: Session, inquiry_id, role: str) -> Inquiry:
    inquiry = get(db, inquiry_id)
    if not visible(inquiry, role):
        raise NotFound("お問い合わせが見つかりません。")
    return inquiry


def reason(db: Session, inquiry_id) -> Inquiry:
    """The inquiry a look-up of personal data serves (D-1): it must exist and not be closed."""
    if inquiry_id in (None, ""):
        raise ReasonRequired()
    try:
        inquiry = db.get(Inquiry, int(inquiry_id))
    except (TypeError, ValueError, OverflowError):
        inquiry = None
    if inquiry is None or inquiry.state not in REASON_STATES:
        raise ReasonRequired()
    return inquiry


def _journal(
    db: Session,
    inquiry: Inquiry,
    viewer: Viewer,
    now: dt.datetime,
    event: str,
    old: str | None,
    new: str | None,
    note: str,
    manual: tuple[int, str] | None = None,
) -> None:
    db.add(
        InquiryEvent(
            inquiry_id=inquiry.id,
            at=now,
            actor=viewer.actor,
            role=viewer.role,
            event=event,
            from_state=old,
            to_state=new,
            note=note,
            manual_version=manual[0] if manual else None,
            manual_section=manual[1][:200] if manual else None,
        )
    )


def _permitted(viewer: Viewer, event: str) -> None:
    if event in CITY_EVENTS:
        if viewer.role != roles.CITY:
            raise Forbidden("市への報告に回答できるのは市の担当者だけです。")
    elif viewer.role not in CALL_CENTRE_ROLES:
        raise Forbidden("この操作はコールセンター・事務局が行います。")


@dataclasses.dataclass
class Applied:
    inquiry: Inquiry
    mails: int = 0


def apply(
    db: Session,
    clock,
    settings: Settings,
    viewer: Viewer,
    inquiry: Inquiry,
    event,
    note="",
    *,
    into=None,
    manual: tuple[int, str] | None = None,
) -> Applied:
    """Fire `event` on the inquiry with a note (required to escalate and to answer)."""
    if not isinstance(event, str) or event not in EVENTS:
        raise Invalid(f"event は {', '.join(EVENTS)} のいずれかです。")
    _permitted(viewer, event)
    note = _clean(note, NOTE_MAX, "メモ")
    if event in NOTE_REQUIRED and not note:
        raise Invalid(
            "市への報告には要約を入力してください。"
            if event == "escalate"
            else "回答・指示の内容を入力してください。"
        )
    target = None
    if event == "merge":
        target = _merge_target(db, inquiry, into)
    now = clock.now()
    old = inquiry.state
    try:
        new = fire(db, inquiry_wf.MACHINE, inquiry, event, actor=viewer.actor, now=now, reason=note)
    except IllegalTransition as exc:
        raise BadTransition(exc.message, details=exc.details) from None
    cal = calendar(settings)
    mails = 0
    if event == "take":
        inquiry.assignee = viewer.actor
    elif event == "wait":
        inquiry.waiting_since = now
    elif event == "resume" and old == inquiry_wf.S.waiting:
        paused = cal.between(inquiry.waiting_since or now, now)
        inquiry.due_at = cal.add(inquiry.due_at, paused) if paused else inquiry.due_at
        _deadlines(inquiry, cal, settings)
        inquiry.waiting_since = None
    elif event == "escalate":
        inquiry.escalated_at = now
        inquiry.escalation_summary = note
        inquiry.remind_at = cal.add_hours(
            now, settings.callcenter.escalation_reminder_business_hours
        )
        mails = tell_city(db, clock, settings, inquiry, "inquiry_escalated.txt.jinja2", now)
    elif event == "answer":
        inquiry.answered_at = now
        inquiry.answered_by = viewer.actor
        inquiry.answer = note
        inquiry.remind_at = None
    elif event == "resolve":
        inquiry.resolved_at = now
        inquiry.close_at = cal.add_days(now, settings.callcenter.auto_close_business_days)
    elif event == "reopen":
        inquiry.resolved_at = inquiry.close_at = None
    elif event == "close":
        inquiry.closed_at = now
        inquiry.close_at = None
    elif event == "merge":
        inquiry.merged_into_id = target.id
        inquiry.remind_at = inquiry.close_at = None
        _journal(db, target, viewer, now, "note", None, None, f"No.{inquiry.id} を統合しました。")
    inquiry.updated_at = now
    _journal(db, inquiry, viewer, now, event, old, new, note, manual)
    db.flush()
    return Applied(inquiry, mails)


def _merge_target(db: Session, inquiry: Inquiry, into) -> Inquiry:
    if into in (None, "") or isinstance(into, bool):
        raise Invalid("統合先のお問い合わせ番号(into)を指定してください。")
    try:
        target = db.get(Inquiry, int(into))
    except (TypeError, ValueError, OverflowError):
        target = None
    if target is None:
        raise Invalid("統合先のお問い合わせが見つかりません。")
    if target.id == inquiry.id:
        raise Invalid("同じお問い合わせには統合できません。")
    if target.state in (inquiry_wf.S.closed, inquiry_wf.S.merged):
        raise BadTransition("完了または統合済みのお問い合わせには統合できません。")
    return target


def add_note(
    db: Session,
    clock,
    viewer: Viewer,
    inquiry: Inquiry,
    note,
    manual: tuple[int, str] | None = None,
) -> None:
    """A note on its own (the call goes on; the state does not change)."""
    if viewer.role not in CALL_CENTRE_ROLES:
        raise Forbidden()
    note = _clean(note, NOTE_MAX, "メモ", required=True)
    if inquiry.state in (inquiry_wf.S.closed, inquiry_wf.S.merged):
        raise BadTransition("完了したお問い合わせにはメモを追加できません。")
    now = clock.now()
    inquiry.updated_at = now
    _journal(db, inquiry, viewer, now, "note", inquiry.state, inquiry.state, note, manual)
    db.flush()


def journal_note(db: Session, clock, viewer: Viewer, inquiry: Inquiry, note: str) -> None:
    """A line on the journal written by the system's own steps (a transfer decided by the
    city), whatever the inquiry's state."""
    now = clock.now()
    _journal(db, inquiry, viewer, now, "note", inquiry.state, inquiry.state, note)
    db.flush()


def link(db: Session, clock, viewer: Viewer, inquiry: Inquiry, *, person=None, store=None):
    """Tie the resident or store found in a look-up to the inquiry."""
    if viewer.role not in CALL_CENTRE_ROLES:
        raise Forbidden()
    if inquiry.state in (inquiry_wf.S.closed, inquiry_wf.S.merged):
        raise BadTransition("完了したお問い合わせは変更できません。")
    now = clock.now()
    if person is not None:
        inquiry.person_id = person.id
        note = f"お客さま番号 {refs.display(person.ref)} を紐づけました。"
    else:
        inquiry.store_id = store.id
        note = f"店舗 {store.code} {store.name} を紐づけました。"
    inquiry.updated_at = now
    _journal(db, inquiry, viewer, now, "note", inquiry.state, inquiry.state, note)
    db.flush()


def tell_city(db: Session, clock, settings: Settings, inquiry: Inquiry, template: str, due) -> int:
    """Mail the city's contacts (setting kariya.callcenter.city_contacts) through the outbox;
    `due` makes the mail's key, so one due time is told once."""
    contacts = [a.strip() for a in settings.callcenter.city_contacts.split(",") if a.strip()]
    if not contacts:
        return 0
    subject, body = outbox.render(
        template,
        inquiry=inquiry,
        category=categories.label(inquiry.category),
        url=f"{settings.public_url.rstrip('/')}/city/callcenter/inquiries/{inquiry.id}",
        escalated=to_jst(inquiry.escalated_at) if inquiry.escalated_at else None,
        due=to_jst(due),
    )
    ref = f"inquiry:{inquiry.id}:{template.split('.')[0]}:{due.astimezone(dt.UTC).isoformat()}"
    return sum(
        outbox.queue(db, clock, ref=ref, to_addr=to, subject=subject, body=body) for to in contacts
    )
