"""One clock for web, CLI and Celery; settable only where the settings allow."""

import datetime as dt

import webtest

from kariya import make_config
from kariya.clock import Clock, make_clock
from kariya.settings import settings_of
from tests.conftest import BASE_SETTINGS


def test_put_dev_clock_sets_the_time_every_process_reads(testapp, settings, session_factory):
    testapp.put_json("/dev/clock", {"now": "2024-01-17T12:34:56+09:00", "frozen": True})
    other_session = session_factory()  # e.g. the CLI or a Celery worker
    now = make_clock(settings_of(settings), other_session).now()
    assert now == dt.datetime(2024, 1, 17, 3, 34, 56, tzinfo=dt.UTC)
    other_session.close()


def test_unfrozen_clock_moves_on_from_the_time_set(testapp, settings, session_factory):
    testapp.put_json("/dev/clock", {"now": "2024-01-17T12:00:00+09:00"})
    session = session_factory()
    first = make_clock(settings_of(settings), session).now()
    assert abs(first - dt.datetime(2024, 1, 17, 3, 0, tzinfo=dt.UTC)) < dt.timedelta(seconds=5)
    session.close()


def test_clock_needs_an_offset(testapp):
    response = testapp.put_json("/dev/clock", {"now": "2024-01-17T12:00:00"}, status=422)
    assert "時差" in response.json["message"]
    testapp.put_json("/dev/clock", {"now": "tomorrow"}, status=422)


def test_dev_calls_are_absent_unless_enabled(engine):
    app = webtest.TestApp(
        make_config(
            {**BASE_SETTINGS, "kariya.clock": "system", "kariya.line.simulator": "false"}
        ).make_wsgi_app()
    )
    app.put_json("/dev/clock", {"now": "2024-01-17T12:00:00+09:00"}, status=404)
    app.post_json("/dev/line-login", {"line_user_id": "U1"}, status=404)


def test_system_clock_is_real_time(db):
    clock = make_clock(settings_of({"kariya.clock": "system"}), db)
    assert type(clock) is Clock
    assert abs(clock.now() - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=2)
