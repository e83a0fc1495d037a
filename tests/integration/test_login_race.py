"""Issue 14, defect 9: the per-account login limit holds under real concurrency. Forty wrong
passwords for one account arrive at once over real HTTP (a thread per connection); at most the
limit (5) of them are checked against the password, the rest are refused with 429 unchecked."""

from __future__ import annotations

import re
import threading

import httpx
import pytest
from sqlalchemy import func, select

from kariya import make_config
from kariya.models import LoginAttempt
from tasks import configure
from tests.conftest import BASE_SETTINGS
from tests.helpers import LiveServer, make_user

pytestmark = pytest.mark.integration

GUESSES = 40
CHECKED = "ユーザー名またはパスワードが正しくありません"
THROTTLED = "しばらくログインできません"


@pytest.fixture(scope="module")
def base_url(engine, registry):
    server = LiveServer()
    app = make_config({**BASE_SETTINGS, "kariya.public_url": server.base}).make_wsgi_app()
    server.start(app)
    yield server.base
    server.stop()
    configure(registry)  # the Celery app back to the suite's app


def test_forty_simultaneous_wrong_passwords_check_at_most_five(base_url, db):
    make_user(db, "city")
    browsers = [httpx.Client(base_url=base_url, timeout=120) for _ in range(GUESSES)]
    tokens = []
    for browser in browsers:  # each its own session and CSRF token, as forty browsers would
        form = browser.get("/login")
        tokens.append(re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1))
    start = threading.Barrier(GUESSES)
    answers: list[httpx.Response | Exception] = [None] * GUESSES  # type: ignore[list-item]

    def guess(i: int) -> None:
        start.wait()
        try:
            answers[i] = browsers[i].post(
                "/login",
                data={"username": "city", "password": f"wrong-{i}", "csrf_token": tokens[i]},
            )
        except Exception as exc:  # reported below
            answers[i] = exc

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(GUESSES)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    for browser in browsers:
        browser.close()

    assert not [a for a in answers if isinstance(a, Exception)], answers
    checked = [a for a in answers if CHECKED in a.text]
    throttled = [a for a in answers if THROTTLED in a.text]
    assert len(checked) + len(throttled) == GUESSES
    assert len(checked) <= 5, f"{len(checked)} guesses were checked against a limit of 5"
    assert all(a.status_code == 429 and int(a.headers["Retry-After"]) > 0 for a in throttled)
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(LoginAttempt)) == GUESSES
    assert (
        db.scalar(
            select(func.count()).select_from(LoginAttempt).where(LoginAttempt.throttled.is_(False))
        )
        == 5
    )
