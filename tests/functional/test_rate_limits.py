"""Issue 14, defect 8: rate limits (views/ratelimits.py; DESIGN 5.1; I-10). Too many calls from
one resident, or without a login from one address, answer 429 RATE_LIMITED with a Japanese
message and Retry-After; the Monday rush from one address and a busy till never are."""

from __future__ import annotations

import configparser
import json
import re
import time
from pathlib import Path

import pytest
import webob
import webtest
from sqlalchemy import func, select

from kariya import make_config
from kariya.models import Acquisition, Person
from kariya.security import SESSION_FACTORY_KEY
from kariya.security.sessions import COOKIE_NAME, KEY_PREFIX
from kariya.settings import parse
from tasks import configure
from tests.conftest import BASE_SETTINGS
from tests.helpers import ROUND1, load_campaign, login_resident, make_person, make_user

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
BENCH_INI = Path(__file__).resolve().parents[1] / "benchmarks" / "bench.ini"

# Small numbers, so that a test reaches each limit in a few calls.
SMALL = {
    "kariya.rate_limit.per_resident": "5",
    "kariya.rate_limit.qr_per_resident": "4",
    "kariya.rate_limit.per_address": "6",
}
WINDOW = 3  # seconds, for the test that waits for a window to end


@pytest.fixture(scope="module")
def small_app(engine, registry):
    app = make_config({**BASE_SETTINGS, **SMALL}).make_wsgi_app()
    configure(registry)  # the Celery app back to the suite's app
    return app


@pytest.fixture(scope="module")
def short_window_app(engine, registry):
    settings = {**BASE_SETTINGS, **SMALL, "kariya.rate_limit.window_seconds": str(WINDOW)}
    app = make_config(settings).make_wsgi_app()
    configure(registry)
    return app


def client(app, address: str = "10.0.0.1") -> webtest.TestApp:
    return webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": address})


def assert_limited(response, *, json: bool = True):
    assert response.status_int == 429
    retry = int(response.headers["Retry-After"])
    assert 1 <= retry <= 60
    if json:
        assert response.content_type == "application/json"
        assert response.json["error"] == "RATE_LIMITED"
        assert JAPANESE.search(response.json["message"])
    else:
        assert response.content_type == "text/html"
        assert "RATE_LIMITED" in response.text and "待って" in response.text


def put_profile(browser, token, area="kariya", status=200):
    return browser.put_json(
        "/api/v1/me/profile",
        {"age_band": "70s", "area": area, "agreed_terms": 1},
        headers={"X-CSRF-Token": token},
        status=status,
    )


# -- the defaults are DESIGN 5.1's -------------------------------------------------------------


def test_the_defaults_are_30_unsafe_calls_a_minute_per_resident():
    rules = parse({"kariya.session_secret": "x"}).rate_limit
    assert rules.enabled and rules.window_seconds == 60 and rules.per_resident == 30
    assert rules.per_address >= 300  # generous: carrier NAT, load tests from one address


def test_the_rush_benchmark_runs_with_the_default_limits():
    """tests/benchmarks/bench.ini may not lower them: the rush must meet the limits as
    production does, and is never limited (test_the_monday_rush_... below)."""
    parser = configparser.ConfigParser(defaults={"here": str(BENCH_INI.parent)})
    parser.read(BENCH_INI)
    app = dict(parser["app:main"])
    defaults = parse({"kariya.session_secret": "x"}).rate_limit
    assert parse({**app, "kariya.session_secret": "x"}).rate_limit == defaults


# -- per resident ------------------------------------------------------------------------------


def test_a_resident_is_limited_after_30_unsafe_calls_a_minute(testapp, db, redis_client):
    token = login_resident(testapp, profile=False)
    for _ in range(30):
        put_profile(testapp, token)
    refused = put_profile(testapp, token, area="toyota", status=429)
    assert_limited(refused)
    db.expire_all()
    assert db.scalar(select(Person.area)) == "kariya"  # the refused call wrote nothing
    person_id = db.scalar(select(Person.id))
    assert 1 <= redis_client.ttl(f"kariya:rate:resident:{person_id}") <= 60
    # Reading is not limited.
    for _ in range(40):
        testapp.get("/api/v1/coupons", status=200)


def test_another_resident_behind_the_same_address_is_not_limited(small_app):
    first, second = client(small_app), client(small_app, "10.0.0.1")
    token = login_resident(first, "U" + "1" * 32, profile=False)
    other = login_resident(second, "U" + "2" * 32, profile=False)
    for _ in range(5):
        put_profile(first, token)
    assert_limited(put_profile(first, token, status=429))
    put_profile(second, other)


def test_qr_lookups_are_limited_per_resident(small_app, db):
    browser = client(small_app)
    login_resident(browser, profile=False)
    for n in range(4):
        browser.get(f"/api/v1/qr/guess{n}", status=404)
    assert_limited(browser.get("/api/v1/qr/guess-more", status=429))


def test_the_window_expires(short_window_app, redis_client):
    browser = client(short_window_app)
    token = login_resident(browser, profile=False)
    for _ in range(5):
        put_profile(browser, token)
    refused = put_profile(browser, token, status=429)
    assert_limited(refused)
    assert int(refused.headers["Retry-After"]) <= WINDOW
    assert redis_client.ttl("kariya:rate:resident:1") in range(1, WINDOW + 1)
    time.sleep(WINDOW + 0.2)
    assert redis_client.exists("kariya:rate:resident:1") == 0  # Redis let it go
    put_profile(browser, token)


# -- per address, without a login --------------------------------------------------------------


def test_anonymous_qr_token_guessing_is_limited_by_address(small_app):
    guesser = client(small_app, "203.0.113.5")
    for n in range(6):
        guesser.get(f"/api/v1/qr/guess{n}", status=401)
    assert_limited(guesser.get("/api/v1/qr/guess6", status=429))
    assert_limited(guesser.get("/s/guess7", status=429), json=False)
    # Someone at another address is not.
    client(small_app, "203.0.113.6").get("/api/v1/qr/guess8", status=401)


def test_the_line_callback_is_limited_by_address(small_app):
    browser = client(small_app, "203.0.113.7")
    for n in range(6):
        browser.get(f"/login/line/callback?code=c{n}&state=s{n}", status=(400, 403, 409, 422))
    assert_limited(browser.get("/login/line/callback?code=x&state=y", status=429), json=False)


def test_the_staff_login_is_limited_by_address_too(small_app, db):
    make_user(db, "city")
    browser = client(small_app, "203.0.113.8")
    for _ in range(6):
        browser.post("/login", {"username": "x"}, status=403)  # no CSRF token: still counted
    assert_limited(browser.post("/login", {"username": "x"}, status=429), json=False)


def test_an_ipv6_client_is_counted_by_its_64(small_app):
    for n in range(6):
        client(small_app, f"2001:db8:1:2::{n + 1}").get("/api/v1/qr/x", status=401)
    assert_limited(client(small_app, "2001:db8:1:2::ff").get("/api/v1/qr/x", status=429))
    client(small_app, "2001:db8:1:3::1").get("/api/v1/qr/x", status=401)


def test_a_forged_x_forwarded_for_does_not_escape_the_address_limit(small_app):
    """The address is the one kariya/security/http.py derives: no proxy is trusted here."""
    for n in range(6):
        browser = client(small_app, "203.0.113.9")
        browser.get("/api/v1/qr/x", headers={"X-Forwarded-For": f"198.51.100.{n}"}, status=401)
    forged = {"X-Forwarded-For": "198.51.100.99"}
    assert_limited(client(small_app, "203.0.113.9").get("/api/v1/qr/x", headers=forged, status=429))


# -- never limited -----------------------------------------------------------------------------


def test_the_monday_rush_from_one_address_is_never_limited(small_app, db, testapp):
    """Residents behind one address (carrier NAT, the rush benchmark's 127.0.0.1), one
    acquisition each: more of them than the address limit, none refused. The trivial endpoint
    is not counted at all."""
    load_campaign(db)
    testapp.put_json("/dev/clock", {"now": ROUND1.replace(hour=1).isoformat(), "frozen": True})
    phones = []
    for n in range(10):  # each logged in earlier, elsewhere
        make_person(db, n)
        phone = client(small_app, f"198.51.100.{n}")
        phone.post_json("/dev/line-login", {"line_user_id": f"U{n:032x}", "display_name": "市民"})
        phone.extra_environ["REMOTE_ADDR"] = "127.0.0.1"
        phones.append((phone, phone.get("/api/v1/me").json["csrf_token"]))
    for phone, token in phones:
        phone.post("/api/v1/acquisitions", headers={"X-CSRF-Token": token}, status=201)
    assert db.scalar(select(func.count()).select_from(Acquisition)) == 10
    trivial = client(small_app, "127.0.0.1")
    for _ in range(20):
        trivial.get("/healthz/live", status=200)
        trivial.get("/api/v1/stores", status=200)


def test_a_busy_till_is_never_limited(small_app, db):
    """Store staff (the till's portal polls its uses every 5 s) are not counted."""
    from tests.helpers import login_staff, make_store

    make_store(db, "S0001")
    make_user(db, "store", store_code="S0001")
    till = client(small_app, "203.0.113.10")
    login_staff(till, "store")
    for _ in range(20):
        till.get("/store/api/redemptions", status=200)


def test_when_redis_does_not_answer_calls_go_through(engine, registry, caplog):
    """The limits protect; a lost Redis must not refuse residents' anonymous pages (the
    sessions report their own 503)."""
    settings = {**BASE_SETTINGS, "kariya.redis_url": "redis://127.0.0.1:1/0"}
    app = make_config(settings).make_wsgi_app()
    configure(registry)
    browser = client(app, "203.0.113.11")
    for _ in range(3):
        browser.get("/api/v1/qr/x", status=401)
    assert "rate limit not checked" in caplog.text


def test_without_redis_one_process_keeps_the_windows(engine, registry):
    settings = {**BASE_SETTINGS, **SMALL, "kariya.redis_url": ""}
    app = make_config(settings).make_wsgi_app()
    configure(registry)
    browser = client(app, "203.0.113.12")
    for _ in range(6):
        browser.get("/api/v1/qr/x", status=401)
    assert_limited(browser.get("/api/v1/qr/x", status=429))


def test_what_a_resident_may_not_do_at_all_does_not_use_up_the_window(small_app):
    """A resident's call refused by the permission check (403 FORBIDDEN) is not counted: it
    costs nothing, and the route x role matrix asks every unsafe route as a resident."""
    browser = client(small_app)
    token = login_resident(browser, profile=False)
    for _ in range(8):
        browser.post_json(
            "/api/v1/staff/inquiries", {}, headers={"X-CSRF-Token": token}, status=403
        )
    put_profile(browser, token)


# -- a resident's call: one Redis round trip (issue 16) -----------------------------------------


def sent_commands(app, monkeypatch) -> list[str]:
    """The commands the app's Redis client sends from now on (to the real Redis)."""
    client = app.registry["kariya.session_store"].client
    sent: list[str] = []
    send = client.execute_command

    def counted(*args, **options):
        sent.append(str(args[0]).upper())
        return send(*args, **options)

    monkeypatch.setattr(client, "execute_command", counted)
    return sent


def session_key(app, browser) -> str:
    factory = app.registry[SESSION_FACTORY_KEY]
    cookie = f"{COOKIE_NAME}={browser.cookies[COOKIE_NAME]}"
    return KEY_PREFIX + factory.read_id(webob.Request.blank("/", headers={"Cookie": cookie}))


def test_a_residents_counted_call_reads_the_session_and_counts_in_one_round_trip(
    small_app, db, redis_client, monkeypatch
):
    """I-9: under the rush every blocking call costs a threaded worker CPU, so a resident's
    counted call reads the session and counts the window in one script; the count is the
    resident's, as before."""
    browser = client(small_app)
    token = login_resident(browser, profile=False)
    person_id = db.scalar(select(Person.id))
    put_profile(browser, token)  # the scripts are loaded
    sent = sent_commands(small_app, monkeypatch)
    put_profile(browser, token)
    browser.get("/api/v1/qr/guess", status=404)
    assert sent == ["EVALSHA", "EVALSHA"]
    assert redis_client.get(f"kariya:rate:resident:{person_id}") == b"2"
    assert redis_client.get(f"kariya:rate:qr:{person_id}") == b"1"
    sent.clear()
    browser.get("/api/v1/coupons", status=200)  # no rule counts it: the session's GET alone
    assert sent == ["GET"]


def test_a_call_counted_for_a_session_gone_idle_is_given_back(small_app, db, redis_client):
    """The script counts before the app sees that the session went idle (the call is then
    nobody's, 401); the count goes back, as for a 403 above."""
    browser = client(small_app)
    token = login_resident(browser, profile=False)
    person_id = db.scalar(select(Person.id))
    key = session_key(small_app, browser)
    record = json.loads(redis_client.get(key))
    record["a"] -= 24 * 3600
    redis_client.set(key, json.dumps(record), keepttl=True)
    put_profile(browser, token, status=401)
    assert int(redis_client.get(f"kariya:rate:resident:{person_id}") or 0) == 0
