"""The call centre's reminders in business time (Q-1, Q-2): an escalation the city has not
answered is reminded every 4 business hours, on the city's page and by mail to its contacts
through the outbox, once per due time even when two beats run at once; agents are warned before
an inquiry's due time (2 business hours); nothing is reminded while the clock is paused."""

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from kariya import settings as kariya_settings
from kariya.audit.access import Viewer
from kariya.callcenter import inquiries, reminders
from kariya.clock import FixedClock
from kariya.models import InquiryReminder, OutboundMail
from tests.functional.callcenter_support import MONDAY_10, staff_app

CONTACTS = "kikaku@city.kariya.example, shoko@city.kariya.example"
SETTINGS = kariya_settings.parse({"kariya.callcenter.city_contacts": CONTACTS})
AGENT = Viewer("staff:agent", "agent")
CITY = Viewer("staff:city", "city")


def at(text: str) -> FixedClock:
    return FixedClock(dt.datetime.fromisoformat(text))


def escalated(db, when="2024-01-15T10:00:00+09:00"):
    clock = at(when)
    inquiry = inquiries.create(
        db,
        clock,
        SETTINGS,
        AGENT,
        caller_type="resident",
        channel="phone",
        category="complaint",
        subject="店で断られた",
    )
    inquiries.apply(db, clock, SETTINGS, AGENT, inquiry, "take")
    inquiries.apply(db, clock, SETTINGS, AGENT, inquiry, "escalate", "登録店で断られた")
    db.commit()
    return inquiry


def run(db, when: str) -> dict:
    done = reminders.run_due(db, at(when), SETTINGS)
    db.commit()
    return done


def reminder_count(db, kind="escalation") -> int:
    return db.scalar(
        select(func.count()).select_from(InquiryReminder).where(InquiryReminder.kind == kind)
    )


def reminder_mails(db) -> list[str]:
    return list(
        db.scalars(
            select(OutboundMail.to_addr)
            .where(OutboundMail.ref.like("%inquiry_reminder%"))
            .order_by(OutboundMail.id)
        )
    )


def test_escalating_tells_the_citys_contacts_through_the_outbox(db):
    inquiry = escalated(db)
    mails = list(db.scalars(select(OutboundMail).order_by(OutboundMail.id)))
    assert [m.to_addr for m in mails] == [a.strip() for a in CONTACTS.split(",")]
    assert f"No.{inquiry.id}" in mails[0].subject
    assert f"/city/callcenter/inquiries/{inquiry.id}" in mails[0].body
    assert "登録店で断られた" not in mails[0].body  # no case details in a mail


def test_an_unanswered_escalation_is_reminded_every_4_business_hours_once_each(db):
    inquiry = escalated(db)  # Monday 10:00
    assert run(db, "2024-01-15T13:59:59+09:00")["escalations_reminded"] == 0
    done = run(db, "2024-01-15T14:00:00+09:00")
    assert done["escalations_reminded"] == 1 and done["reminder_mails"] == 2
    assert run(db, "2024-01-15T14:01:00+09:00")["escalations_reminded"] == 0  # once per due time
    assert run(db, "2024-01-15T20:00:00+09:00")["escalations_reminded"] == 0  # closed hours
    # The next due time: 14:00 + 4 business hours = Tuesday 10:00.
    assert run(db, "2024-01-16T09:59:00+09:00")["escalations_reminded"] == 0
    assert run(db, "2024-01-16T10:00:00+09:00")["escalations_reminded"] == 1
    assert reminder_count(db) == 2 and len(reminder_mails(db)) == 4
    mail = db.scalar(select(OutboundMail).where(OutboundMail.ref.like("%inquiry_reminder%")))
    assert "回答" in mail.subject and f"No.{inquiry.id}" in mail.subject
    # Answered: no more reminders.
    inquiries.apply(
        db, at("2024-01-16T11:00:00+09:00"), SETTINGS, CITY, inquiry, "answer", "対応します"
    )
    db.commit()
    assert run(db, "2024-01-17T10:00:00+09:00")["escalations_reminded"] == 0


def test_a_beat_that_was_down_gives_one_reminder_not_one_per_missed_due_time(db):
    escalated(db)
    # Friday 10:00 the next week: six due times have passed unnoticed.
    assert run(db, "2024-01-19T10:00:00+09:00")["escalations_reminded"] == 1
    assert run(db, "2024-01-19T10:30:00+09:00")["escalations_reminded"] == 0
    assert run(db, "2024-01-19T14:00:00+09:00")["escalations_reminded"] == 1


def test_two_beats_at_once_give_one_reminder(db, session_factory):
    escalated(db)
    start = threading.Barrier(2)
    results = []

    def beat():
        session = session_factory()
        try:
            start.wait()
            results.append(reminders.run_due(session, at("2024-01-15T14:00:00+09:00"), SETTINGS))
            session.commit()
        finally:
            session.close()

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(r["escalations_reminded"] for r in results) == [0, 1]
    db.expire_all()
    assert reminder_count(db) == 1 and len(reminder_mails(db)) == 2


def test_agents_are_warned_before_the_due_time_and_it_shows_on_the_console(db, testapp, set_now):
    clock = at("2024-01-15T10:00:00+09:00")
    inquiry = inquiries.create(
        db,
        clock,
        SETTINGS,
        AGENT,
        caller_type="store",
        channel="phone",
        category="payment",
        subject="振込の時期",
    )
    db.commit()
    # Due Wednesday 10:00; warned 2 business hours before: Tuesday 16:00.
    assert inquiry.due_at == dt.datetime.fromisoformat("2024-01-17T10:00:00+09:00")
    assert run(db, "2024-01-16T15:59:00+09:00")["due_warnings"] == 0
    assert run(db, "2024-01-16T16:00:00+09:00")["due_warnings"] == 1
    assert run(db, "2024-01-16T16:30:00+09:00")["due_warnings"] == 0
    set_now("2024-01-17T10:30:00+09:00")
    staff_app(testapp, db, "agent")
    warnings = testapp.get("/callcenter/").html.select_one("#warnings").text
    assert "振込の時期" in warnings and "期限超過" in warnings


def test_no_warning_while_waiting_on_the_caller(db):
    clock = at("2024-01-15T10:00:00+09:00")
    inquiry = inquiries.create(
        db,
        clock,
        SETTINGS,
        AGENT,
        caller_type="resident",
        channel="phone",
        category="use",
        subject="x",
    )
    inquiries.apply(db, clock, SETTINGS, AGENT, inquiry, "take")
    inquiries.apply(db, clock, SETTINGS, AGENT, inquiry, "wait")
    db.commit()
    assert run(db, "2024-01-19T10:00:00+09:00")["due_warnings"] == 0
    assert reminder_count(db, "due_soon") == 0


@pytest.mark.parametrize("hours", ["1", "8"])
def test_the_reminder_interval_is_a_setting(db, hours):
    settings = kariya_settings.parse(
        {"kariya.callcenter.escalation_reminder_business_hours": hours}
    )
    clock = at(MONDAY_10.isoformat())
    inquiry = inquiries.create(
        db,
        clock,
        settings,
        AGENT,
        caller_type="other",
        channel="mail",
        category="other",
        subject="x",
    )
    inquiries.apply(db, clock, settings, AGENT, inquiry, "take")
    inquiries.apply(db, clock, settings, AGENT, inquiry, "escalate", "要約")
    db.commit()
    expected = {"1": "2024-01-15T11:00:00+09:00", "8": "2024-01-16T10:00:00+09:00"}[hours]
    assert inquiry.remind_at == dt.datetime.fromisoformat(expected)
