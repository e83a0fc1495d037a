"""The call centre's reminders on a real Celery worker over Redis (Q-1, Q-2): the beat's task
reminds the city of an unanswered escalation through the outbox, once per due time, however many
times the task runs (two beats) and across a restarted worker."""

import datetime as dt
import time

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from sqlalchemy import func, select

from kariya import make_config
from kariya import settings as kariya_settings
from kariya.audit.access import Viewer
from kariya.callcenter import inquiries
from kariya.clock import FixedClock, set_clock
from kariya.models import InquiryReminder, OutboundMail
from tasks import celery_app, configure
from tests.conftest import BASE_SETTINGS, BROKER_URL

pytestmark = pytest.mark.integration

CONTACTS = "kikaku@city.kariya.example"
WORKER_SETTINGS = {
    **BASE_SETTINGS,
    "celery.always_eager": "false",
    "kariya.callcenter.city_contacts": CONTACTS,
}


@pytest.fixture
def worker_config(engine, registry):
    redis.Redis.from_url(BROKER_URL).flushdb()
    config = make_config(dict(WORKER_SETTINGS))  # configures celery_app with this registry
    yield config
    configure(registry)  # back to the eager app of the other tests


def escalate(db):
    settings = kariya_settings.parse(WORKER_SETTINGS)
    clock = FixedClock(dt.datetime.fromisoformat("2024-01-15T10:00:00+09:00"))
    agent = Viewer("staff:agent", "agent")
    inquiry = inquiries.create(
        db,
        clock,
        settings,
        agent,
        caller_type="resident",
        channel="phone",
        category="complaint",
        subject="苦情",
    )
    inquiries.apply(db, clock, settings, agent, inquiry, "take")
    inquiries.apply(db, clock, settings, agent, inquiry, "escalate", "要約")
    db.commit()
    return inquiry


def counts(db) -> tuple[int, int]:
    db.expire_all()
    reminded = db.scalar(select(func.count()).select_from(InquiryReminder))
    mails = db.scalar(
        select(func.count())
        .select_from(OutboundMail)
        .where(OutboundMail.ref.like("%inquiry_reminder%"))
    )
    return reminded, mails


def wait_for(db, expected: tuple[int, int], seconds: float = 20) -> tuple[int, int]:
    deadline = time.monotonic() + seconds
    while counts(db) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    return counts(db)


def drain(seconds: float = 20) -> None:
    """Wait until the broker's queue is empty (the worker took every task)."""
    queue = redis.Redis.from_url(BROKER_URL)
    deadline = time.monotonic() + seconds
    while queue.llen("celery") and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # the last task taken has finished its short transaction


def test_reminders_run_once_per_due_time_on_a_real_worker(worker_config, db):
    escalate(db)  # Monday 10:00; the reminder is due at 14:00 (4 business hours)
    set_clock(db, dt.datetime.fromisoformat("2024-01-15T13:00:00+09:00"), frozen=True)
    db.commit()
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        celery_app.send_task("kariya.callcenter.remind")
        drain()
        assert counts(db) == (0, 0)  # not due yet

        set_clock(db, dt.datetime.fromisoformat("2024-01-15T14:00:00+09:00"), frozen=True)
        db.commit()
        for _ in range(2):  # two beats, the same minute
            celery_app.send_task("kariya.callcenter.remind")
        assert wait_for(db, (1, 1)) == (1, 1)
        drain()
        assert counts(db) == (1, 1)

    # A restarted worker runs the task again for the same due time: nothing more.
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        celery_app.send_task("kariya.callcenter.remind")
        drain()
        assert counts(db) == (1, 1)
        # The next due time (Tuesday 10:00) is reminded once.
        set_clock(db, dt.datetime.fromisoformat("2024-01-16T10:00:00+09:00"), frozen=True)
        db.commit()
        celery_app.send_task("kariya.callcenter.remind")
        celery_app.send_task("kariya.callcenter.remind")
        assert wait_for(db, (2, 2)) == (2, 2)
        drain()
        assert counts(db) == (2, 2)
    mail = db.scalar(select(OutboundMail).where(OutboundMail.ref.like("%inquiry_reminder%")))
    assert mail.to_addr == CONTACTS and mail.state == "pending"
