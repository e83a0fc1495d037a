"""A connection that PostgreSQL dropped (a restart, a proxy's idle timeout) costs a resident
nothing (issue 14, I-9; kariya/db.py): a request whose first statement finds its pooled
connection dead runs again on a fresh one. A COMMIT that fails is never run again: whether it
took effect is unknown, so the answer is 503 and the phone retries with its Idempotency-Key.

The pool's pre-ping is off here (as a rush ini may set it), with one pooled connection whose
backend the test terminates. tests/integration/test_faults.py restarts a whole private server.
The lean app writes acquisitions on the single path (group commit off: the request's own
connection); the last test drops the group commit's own connection before its COMMIT.
"""

import pytest
import sqlalchemy as sa
import webtest
from pyramid_retry import IBeforeRetry
from sqlalchemy import event, func, select

from kariya import make_config
from kariya.coupons import GROUP_COMMIT_KEY
from kariya.models import Acquisition
from tasks import configure
from tests.conftest import BASE_SETTINGS
from tests.helpers import ROUND1, load_campaign, login_resident

LEAN = {
    **BASE_SETTINGS,
    "sqlalchemy.pool_pre_ping": "false",
    "sqlalchemy.pool_size": "1",
    "sqlalchemy.max_overflow": "0",
    "kariya.acquisition.group_commit_max": "1",
}


@pytest.fixture
def lean(engine, registry):
    """An app without pre-ping and its engine; it counts the retries of its requests."""
    config = make_config(dict(LEAN))
    retries = []
    config.add_subscriber(lambda event: retries.append(event.exception), IBeforeRetry)
    app = webtest.TestApp(
        config.make_wsgi_app(), extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.0.0.1"}
    )
    app_engine = config.registry["db.engine"]
    yield app, app_engine, retries
    app_engine.dispose()
    configure(registry)  # Celery back to the other tests' app


def backend_pid(app_engine) -> int:
    """The server process of the app's one pooled connection."""
    raw = app_engine.raw_connection()
    try:
        return raw.driver_connection.info.backend_pid
    finally:
        raw.close()


def terminate(engine, pid: int) -> None:
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})


def test_pre_ping_false_in_an_ini_turns_it_off(lean):
    """`sqlalchemy.pool_pre_ping = false` is read as a boolean: the text "false" was taken as
    true, so the setting did nothing."""
    _app, app_engine, _retries = lean
    assert app_engine.pool._pre_ping is False


def open_round(app, db) -> str:
    """Round 1 open (the clock moved through the app, which runs the tick); the resident's
    CSRF token."""
    load_campaign(db)
    app.put_json("/dev/clock", {"now": ROUND1.replace(hour=10).isoformat(), "frozen": True})
    return login_resident(app)


def test_a_dropped_connection_is_replaced_and_the_request_answered(lean, engine, db):
    app, app_engine, retries = lean
    token = open_round(app, db)
    assert app.get("/api/v1/coupons").status_code == 200
    dead = backend_pid(app_engine)
    terminate(engine, dead)

    answer = app.get("/api/v1/coupons")

    assert answer.status_code == 200 and answer.json == {"coupons": []}
    assert len(retries) == 1 and getattr(retries[0], "connection_invalidated", False)
    assert backend_pid(app_engine) != dead
    # The same holds for a write: the acquisition is made once.
    terminate(engine, backend_pid(app_engine))
    app.post("/api/v1/acquisitions", headers={"X-CSRF-Token": token}, status=201)
    assert len(retries) == 2
    assert db.scalar(select(func.count()).select_from(Acquisition)) == 1


def test_a_commit_on_a_dropped_connection_is_not_run_again(lean, engine, db):
    app, app_engine, retries = lean
    token = open_round(app, db)
    dropped = []

    def drop_before_commit(conn):
        if not dropped:  # the acquisition's COMMIT meets a connection that is gone
            dropped.append(conn.connection.driver_connection.info.backend_pid)
            terminate(engine, dropped[0])

    event.listen(app_engine, "commit", drop_before_commit)
    try:
        failed = app.post(
            "/api/v1/acquisitions",
            headers={"X-CSRF-Token": token, "Idempotency-Key": "k1"},
            status=503,
        )
    finally:
        event.remove(app_engine, "commit", drop_before_commit)
    assert failed.json["error"] == "UNAVAILABLE" and failed.headers["Retry-After"] == "30"
    assert retries == [] and dropped
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Acquisition)) == 0
    again = app.post(
        "/api/v1/acquisitions", headers={"X-CSRF-Token": token, "Idempotency-Key": "k1"}
    )
    assert again.status_code == 201 and len(again.json["coupons"]) == 4


def test_a_batch_whose_commit_fails_leaves_its_asks_to_the_single_path(engine, db, registry):
    """The group commit's COMMIT meets a dropped connection: whether it took effect is unknown,
    so its asks take the single path, where the unique (round, person) claim and the
    Idempotency-Key settle it: one acquisition, answered 201 with its four coupons."""
    config = make_config({**BASE_SETTINGS, "sqlalchemy.pool_pre_ping": "false"})
    app = webtest.TestApp(
        config.make_wsgi_app(), extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.0.0.1"}
    )
    committer = config.registry[GROUP_COMMIT_KEY]
    token = open_round(app, db)
    dropped = []

    def drop_before_commit(conn):
        if not dropped:
            dropped.append(conn.connection.driver_connection.info.backend_pid)
            terminate(engine, dropped[0])

    event.listen(committer.engine, "commit", drop_before_commit)
    try:
        answer = app.post(
            "/api/v1/acquisitions", headers={"X-CSRF-Token": token, "Idempotency-Key": "k1"}
        )
    finally:
        event.remove(committer.engine, "commit", drop_before_commit)
        config.registry["db.engine"].dispose()
        configure(registry)
    assert dropped and committer.fallbacks == 1 and committer.acquired == 0
    assert answer.status_code == 201 and len(answer.json["coupons"]) == 4
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Acquisition)) == 1
    again = app.post(
        "/api/v1/acquisitions", headers={"X-CSRF-Token": token, "Idempotency-Key": "k1"}
    )
    assert (again.status_code, again.json) == (201, answer.json)
    committer.engine.dispose()
