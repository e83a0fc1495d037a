"""Tasks are sent only after the request commits, and run on a real Celery worker over Redis."""

import datetime as dt
import time

import pytest
import redis
import webtest
from celery.contrib.testing.worker import start_worker
from sqlalchemy import select

from kariya import make_config
from kariya.clock import set_clock
from kariya.errors import Conflict
from kariya.models import Round, TransitionRecord
from tasks import celery_app, configure
from tests.conftest import BASE_SETTINGS, BROKER_URL
from tests.helpers import ROUND1, load_campaign

pytestmark = pytest.mark.integration


def enqueue_then_fail(request):
    request.enqueue("kariya.tick")
    raise Conflict("この要求は取り消されます。")


def enqueue_then_succeed(request):
    request.enqueue("kariya.tick")
    return {"queued": True}


@pytest.fixture(scope="module")
def worker_app(engine, registry):
    config = make_config({**BASE_SETTINGS, "celery.always_eager": "false"})
    # Two probe views, only in this test's app, around the real request.enqueue.
    config.add_route("probe.fail", "/probe/fail")
    config.add_view(enqueue_then_fail, route_name="probe.fail", require_csrf=False)
    config.add_route("probe.ok", "/probe/ok")
    config.add_view(
        enqueue_then_succeed, route_name="probe.ok", renderer="json", require_csrf=False
    )
    app = webtest.TestApp(config.make_wsgi_app())
    redis.Redis.from_url(BROKER_URL).flushdb()
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield app
    configure(registry)  # back to the eager app of the other tests


def _round1_state(db):
    db.expire_all()
    return db.scalar(select(Round.state).where(Round.number == 1))


def test_task_of_a_rolled_back_request_is_never_sent(worker_app, db, set_now):
    load_campaign(db)
    set_now(ROUND1.replace(hour=9))  # round 1 is due to open: only the tick task would open it
    worker_app.post("/probe/fail", status=409)
    assert redis.Redis.from_url(BROKER_URL).llen("celery") == 0
    time.sleep(3)  # the committed case below is done in well under a second
    assert _round1_state(db) == "scheduled"


def test_task_of_a_committed_request_runs_on_the_worker(worker_app, db, set_now):
    load_campaign(db)
    set_now(ROUND1.replace(hour=9))
    assert worker_app.post("/probe/ok").json == {"queued": True}
    deadline = time.monotonic() + 20
    while _round1_state(db) != "open" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _round1_state(db) == "open"


def test_a_round_opens_at_its_instant_not_at_the_next_beat(worker_app, db):
    """I-1: the Monday rush arrives at the opening instant. The beat ticks every 10 s; a tick
    that sees the opening coming asks for one more tick at that instant. No beat runs here, so
    only that tick can open the round, and it does so just after round 1 begins, not before."""
    load_campaign(db)
    set_clock(db, ROUND1 - dt.timedelta(seconds=2))  # a running clock, 2 s before the opening
    db.commit()
    celery_app.send_task("kariya.tick")
    time.sleep(1)
    assert _round1_state(db) == "scheduled"
    deadline = time.monotonic() + 10
    while _round1_state(db) != "open" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _round1_state(db) == "open"
    opened = db.scalar(
        select(TransitionRecord.at).where(
            TransitionRecord.machine == "round", TransitionRecord.to_state == "open"
        )
    )
    assert ROUND1 <= opened < ROUND1 + dt.timedelta(seconds=1)
