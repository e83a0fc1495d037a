"""The call centre's time-driven work, in business time (Q-2), run by the beat every minute and
by `kariya tick`:

- an escalation the city has not answered is reminded every N business hours (setting
  kariya.callcenter.escalation_reminder_business_hours): on the city's page and by mail to the
  city's contacts through the outbox;
- agents are warned before an inquiry's due time passes (due_warning_business_hours);
- a resolved inquiry closes by itself N business days after it was resolved.

Each reminder is given once per due time, whatever runs it: its row in inquiry_reminder
(unique per inquiry, kind and due time) is inserted in the same transaction as its mails and
its page notice, with ON CONFLICT DO NOTHING, so a second beat, a retried task or a restarted
worker finds the key taken and gives nothing. The closing is one set-based compare-and-set.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, exists, func, insert, select, update
from sqlalchemy.orm import Session

from kariya.callcenter import inquiries
from kariya.callcenter.models import Inquiry, InquiryEvent, InquiryReminder
from kariya.orm import insert_or_skip
from kariya.settings import Settings
from workflows import inquiry as inquiry_wf
from workflows.binding import fire_bulk

ACTOR = "system:callcenter"
ESCALATION = "escalation"
DUE_SOON = "due_soon"


def _claim(db: Session, inquiry_id: int, kind: str, due: dt.datetime, now: dt.datetime) -> bool:
    """Take the reminder's key; False if it was given already (or is being given right now by
    another transaction, which this one waits for)."""
    taken = db.scalar(
        insert_or_skip(db, InquiryReminder, on=["inquiry_id", "kind", "due_at"])
        .values(inquiry_id=inquiry_id, kind=kind, due_at=due, created_at=now)
        .returning(InquiryReminder.id)
    )
    return taken is not None


def close_resolved(db: Session, now: dt.datetime, settings: Settings) -> list[int]:
    table = Inquiry.__table__
    days = settings.callcenter.auto_close_business_days
    ids = fire_bulk(
        db,
        inquiry_wf.MACHINE,
        table,
        [table.c.close_at <= now],
        "close",
        actor=ACTOR,
        now=now,
        reason=f"解決から{days}営業日が経過",
    )
    if ids:
        db.execute(
            update(table)
            .where(table.c.id.in_(ids))
            .values(closed_at=now, close_at=None, updated_at=now)
        )
        db.execute(
            insert(InquiryEvent),
            [
                {
                    "inquiry_id": i,
                    "at": now,
                    "actor": ACTOR,
                    "role": "system",
                    "event": "close",
                    "from_state": inquiry_wf.S.resolved,
                    "to_state": inquiry_wf.S.closed,
                    "note": f"解決から{days}営業日が経過したため、自動で完了にしました。",
                }
                for i in ids
            ],
        )
    return ids


def remind_escalations(db: Session, clock, settings: Settings, now: dt.datetime) -> dict:
    """Every escalation whose reminder time has come: its reminder, once per due time."""
    cal = inquiries.calendar(settings)
    step = dt.timedelta(hours=settings.callcenter.escalation_reminder_business_hours)
    due = list(
        db.scalars(
            select(Inquiry)
            .where(Inquiry.state == inquiry_wf.S.escalated, Inquiry.remind_at <= now)
            .order_by(Inquiry.remind_at)
        )
    )
    reminded = mails = 0
    for inquiry in due:
        remind_at = inquiry.remind_at
        if not _claim(db, inquiry.id, ESCALATION, remind_at, now):
            continue
        reminded += 1
        mails += inquiries.tell_city(
            db, clock, settings, inquiry, "inquiry_reminder.txt.jinja2", remind_at
        )
        following = cal.add(remind_at, step)
        while following <= now:  # the beat was down: the next reminder is the next due time
            following = cal.add(following, step)
        db.execute(
            update(Inquiry)
            .where(Inquiry.id == inquiry.id, Inquiry.remind_at == remind_at)
            .values(remind_at=following)
        )
    return {"reminded": reminded, "mails": mails}


def warn_due(db: Session, now: dt.datetime) -> int:
    """Warn agents (on the console) of every inquiry whose due time is close or past."""
    given = exists().where(
        and_(
            InquiryReminder.inquiry_id == Inquiry.id,
            InquiryReminder.kind == DUE_SOON,
            InquiryReminder.due_at == Inquiry.due_at,
        )
    )
    rows = db.execute(
        select(Inquiry.id, Inquiry.due_at).where(
            Inquiry.state.in_(inquiries.TIMED_STATES), Inquiry.warn_at <= now, ~given
        )
    ).all()
    return sum(_claim(db, inquiry_id, DUE_SOON, due_at, now) for inquiry_id, due_at in rows)


def run_due(db: Session, clock, settings: Settings) -> dict:
    now = clock.now()
    closed = close_resolved(db, now, settings)
    escalations = remind_escalations(db, clock, settings, now)
    warned = warn_due(db, now)
    db.flush()
    return {
        "inquiries_closed": len(closed),
        "escalations_reminded": escalations["reminded"],
        "reminder_mails": escalations["mails"],
        "due_warnings": warned,
    }


def warnings(db: Session, now: dt.datetime) -> list[tuple[Inquiry, dt.datetime]]:
    """The console's warnings: active inquiries warned for their current due time."""
    rows = db.execute(
        select(Inquiry, InquiryReminder.created_at)
        .join(
            InquiryReminder,
            and_(
                InquiryReminder.inquiry_id == Inquiry.id,
                InquiryReminder.kind == DUE_SOON,
                InquiryReminder.due_at == Inquiry.due_at,
            ),
        )
        .where(Inquiry.state.in_(inquiries.TIMED_STATES))
        .order_by(Inquiry.due_at)
    ).all()
    return [(inquiry, at) for inquiry, at in rows]


def escalation_reminders(db: Session, inquiry_ids: list[int]) -> dict[int, int]:
    """How many reminders each escalation has had (the city's page)."""
    if not inquiry_ids:
        return {}
    return {
        inquiry_id: int(n)
        for inquiry_id, n in db.execute(
            select(InquiryReminder.inquiry_id, func.count())
            .where(InquiryReminder.kind == ESCALATION, InquiryReminder.inquiry_id.in_(inquiry_ids))
            .group_by(InquiryReminder.inquiry_id)
        )
    }
