"""Residents log in through LINE Login v2.1 (P-1, I-1, I-10; LINE.md "Login").

The app talks over real HTTP to the LINE simulator (kariya/line_simulator.py) served by waitress
in a thread; the simulator signs genuine HS256 ID tokens with the channel secret, so the real
verification code runs. The test plays the person's browser: it follows the app's redirect to
the simulator's authorize page, submits the form, and brings the callback back to the app.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import socket
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import webtest
from sqlalchemy import func, select

from kariya import make_config
from kariya.dev.line_simulator import LineSimulator
from kariya.models import Person
from kariya.residents.line_login import pkce_challenge
from tests.conftest import BASE_SETTINGS
from tests.helpers import ROUND1, LiveServer, make_person

CHANNEL_ID = "2000000001"
CHANNEL_SECRET = "0123456789abcdef0123456789abcdef"
CALLBACK = "http://localhost/login/line/callback"
ADD_FRIEND_URL = "https://line.me/R/ti/p/@kariya-test"
USER = "U" + "1a" * 16
LOGGER = "kariya.residents.line_login"


class ShiftableNow:
    """The simulator's clock: the real time, moved on by tests when they need it."""

    def __init__(self):
        self.shift = dt.timedelta()

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.shift


@pytest.fixture(scope="module")
def sim_now():
    return ShiftableNow()


@pytest.fixture(scope="module")
def simulator(sim_now):
    sim = LineSimulator(CHANNEL_ID, CHANNEL_SECRET, [CALLBACK], now=sim_now)
    server = LiveServer().start(sim)
    sim.base = server.base
    yield sim
    server.stop()


@pytest.fixture(autouse=True)
def reset_simulator(simulator, sim_now):
    sim_now.shift = dt.timedelta()
    simulator.events.clear()


@pytest.fixture(scope="module")
def line_app(engine, simulator):
    settings = {
        **BASE_SETTINGS,
        "kariya.line.channel_id": CHANNEL_ID,
        "kariya.line.channel_secret": CHANNEL_SECRET,
        "kariya.line.authorize_url": simulator.base + "/oauth2/v2.1/authorize",
        "kariya.line.token_url": simulator.base + "/oauth2/v2.1/token",
        "kariya.line.friendship_url": simulator.base + "/friendship/v1/status",
        "kariya.line.redirect_uri": CALLBACK,
        "kariya.line.add_friend_url": ADD_FRIEND_URL,
    }
    return make_config(settings).make_wsgi_app()


@pytest.fixture
def browser(line_app):
    return webtest.TestApp(
        line_app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.0.0.1"}
    )


def new_browser(line_app):
    return webtest.TestApp(
        line_app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.0.0.2"}
    )


@dataclasses.dataclass
class LineVisit:
    authorize_url: str
    params: dict
    callback: str  # path and query the browser is sent back to


def hidden_fields(page: str) -> dict:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page))


def line_answer(response: httpx.Response) -> str:
    """The app path LINE sends the browser back to (simulator redirects to the callback)."""
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    return f"{location.path}?{location.query}"


def visit_line(
    browser,
    next_path=None,
    *,
    user=USER,
    name="刈谷 花子",
    friend="friend",
    fault="",
    action="allow",
) -> LineVisit:
    """GET /login/line, then what the person does on LINE's (simulated) authorize page."""
    start = browser.get("/login/line", {"next": next_path} if next_path else {}, status=302)
    url = start.location
    params = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    page = httpx.get(url)
    assert page.status_code == 200 and "LINEでログイン (シミュレーター)" in page.text
    form = hidden_fields(page.text) | {
        "sim_user_id": user,
        "sim_name": name,
        "sim_friend": friend,
        "sim_fault": fault,
        "action": action,
    }
    answer = httpx.post(url.split("?")[0], data=form)
    return LineVisit(url, params, line_answer(answer))


def login(browser, next_path=None, **kw):
    visit = visit_line(browser, next_path, **kw)
    return browser.get(visit.callback, status=302)


def people(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(Person))


def assert_refused(browser, db, response, caplog, reason: str):
    """Refused with a Japanese page, nobody logged in, nothing written, a warning logged."""
    assert '<html lang="ja">' in response.text
    assert "LINEでもう一度ログインする" in response.text
    assert people(db) == 0
    assert browser.get("/api/v1/me", status=401).json["error"] == "UNAUTHENTICATED"
    warnings = [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]
    assert warnings, "the refusal was not logged"
    text = " ".join(r.getMessage() for r in warnings)
    assert reason in text
    assert "eyJ" not in text  # never a token in the log


# -- the happy paths ------------------------------------------------------------------------


def test_authorize_request_carries_what_line_login_v21_requires(browser):
    """LINE.md Login step 1: code flow, openid profile, state, nonce, bot_prompt, PKCE S256."""
    start = browser.get("/login/line", status=302)
    parts = urlsplit(start.location)
    params = parse_qs(parts.query)
    assert parts.path == "/oauth2/v2.1/authorize"
    assert params["response_type"] == ["code"]
    assert params["client_id"] == [CHANNEL_ID]
    assert params["redirect_uri"] == [CALLBACK]
    assert params["scope"] == ["openid profile"]
    assert params["bot_prompt"] == ["aggressive"]
    assert params["code_challenge_method"] == ["S256"]
    assert len(params["state"][0]) >= 32 and len(params["nonce"][0]) >= 32
    assert len(params["code_challenge"][0]) == 43
    again = parse_qs(urlsplit(browser.get("/login/line", status=302).location).query)
    assert again["state"] != params["state"] and again["nonce"] != params["nonce"]


def test_first_login_creates_the_person_and_asks_for_the_profile(browser, db, simulator):
    """P-1 and I-1: a friend logs in through LINE, becomes a person, and is asked the profile."""
    done = login(browser, name="刈谷 花子")
    assert done.location == "http://localhost/profile?next=%2Fhome"
    me = browser.get("/api/v1/me").json
    assert me["line_user_id"] == USER and me["display_name"] == "刈谷 花子"
    assert me["profile"] is None
    assert "はじめに" in browser.get(done.location).text
    assert ("token", "issued") in simulator.events
    assert ("friendship", "friend") in simulator.events
    assert people(db) == 1


def test_returning_resident_with_an_expired_session_comes_back_to_the_same_page(browser, db):
    """An expired session on a resident page goes through LINE login and back to that page."""
    make_person(db, 0x1A1A)  # has a profile
    user = f"U{0x1A1A:032x}"
    bounced = browser.get("/wallet?tab=all", status=302)
    assert bounced.location == "http://localhost/login/line?next=%2Fwallet%3Ftab%3Dall"
    start = browser.get(bounced.location, status=302)
    assert start.location.startswith(browser.app.registry.settings["kariya.line.authorize_url"])
    visit = visit_line(browser, "/wallet?tab=all", user=user)
    done = browser.get(visit.callback, status=302)
    assert done.location == "http://localhost/wallet?tab=all"
    assert browser.get("/wallet").status_code == 200
    assert people(db) == 1  # the same person, not a second one


def test_new_resident_goes_through_the_profile_then_to_the_page_asked_for(browser, db):
    """I-1: the first-visit profile comes first; the page asked for comes after."""
    done = login(browser, "/history")
    assert done.location == "http://localhost/profile?next=%2Fhistory"


def test_staff_pages_still_send_anonymous_users_to_the_staff_login(browser):
    assert "/login?next=%2Fcity%2F" in browser.get("/city/", status=302).location
    assert "/login?next=%2Fstore%2F" in browser.get("/store/", status=302).location
    assert browser.get("/api/v1/coupons", status=401).json["error"] == "UNAUTHENTICATED"


def test_friend_added_during_login_is_logged_in_and_thanked(browser, db):
    """bot_prompt=aggressive: adding the account on LINE's screen makes the person eligible."""
    visit = visit_line(browser, friend="added")
    assert "friendship_status_changed=true" in visit.callback
    done = browser.get(visit.callback, status=302)
    assert "お友だち追加ありがとうございます" in browser.get(done.location).text
    assert people(db) == 1


@pytest.mark.parametrize(
    "next_path",
    ["//evil.example/", "https://evil.example/", "/\\evil.example", "http:/evil.example", "\t//x"],
)
def test_next_never_leads_off_site(browser, db, next_path):
    """I-10: no open redirect through the login's `next`."""
    make_person(db, 0x1A1A)
    done = login(browser, next_path, user=f"U{0x1A1A:032x}")
    assert done.location == "http://localhost/home"


def test_logged_in_resident_starting_again_goes_straight_to_the_page(browser, db):
    login(browser)
    again = browser.get("/login/line", {"next": "/stores"}, status=302)
    assert again.location == "http://localhost/stores"  # no second trip to LINE


# -- refusals -------------------------------------------------------------------------------

FAULTS = {
    "wrong_secret": "signature does not verify",
    "tampered": "signature does not verify",
    "alg_none": "alg 'none' is not HS256",
    "alg_hs512": "alg 'HS512' is not HS256",
    "wrong_aud": "aud '9999999999' is not our channel",
    "wrong_iss": "iss 'https://access.example.com' is not https://access.line.me",
    "expired": "id_token expired",
    "wrong_nonce": "nonce does not match",
    "wrong_state": "state does not match",
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_bad_id_token_or_state_is_refused(browser, db, caplog, fault):
    """I-10: a forged, unsigned, misaddressed, foreign, expired or replayed-nonce ID token, or a
    callback whose state is not the session's, logs nobody in."""
    caplog.set_level(logging.WARNING, logger=LOGGER)
    visit = visit_line(browser, "/wallet", fault=fault)
    refused = browser.get(visit.callback, status=400)
    assert "ログインできませんでした" in refused.text
    assert "next=%2Fwallet" in refused.text  # "try again" keeps the page asked for
    assert_refused(browser, db, refused, caplog, FAULTS[fault])


def test_missing_state_is_refused(browser, db, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    visit = visit_line(browser)
    path, query = visit.callback.split("?")
    params = {k: v[0] for k, v in parse_qs(query).items() if k != "state"}
    refused = browser.get(f"{path}?{urlencode(params)}", status=400)
    assert_refused(browser, db, refused, caplog, "state does not match")


def test_callback_from_another_browser_is_refused(browser, line_app, db, caplog):
    """Login CSRF: a callback made for someone else's session does not log this browser in."""
    caplog.set_level(logging.WARNING, logger=LOGGER)
    visit = visit_line(browser)
    other = new_browser(line_app)
    refused = other.get(visit.callback, status=400)
    assert "もう一度ログインしてください" in refused.text
    assert_refused(other, db, refused, caplog, "no login in progress")


def test_a_replayed_code_is_refused(browser, line_app, db, caplog, simulator):
    """I-10: an authorization code serves one login only, even with a fresh state."""
    caplog.set_level(logging.WARNING, logger=LOGGER)
    visit = visit_line(browser)
    browser.get(visit.callback, status=302)  # the genuine login
    code = parse_qs(visit.callback.split("?")[1])["code"][0]
    thief = new_browser(line_app)
    started = thief.get("/login/line", status=302)
    state = parse_qs(urlsplit(started.location).query)["state"][0]
    refused = thief.get("/login/line/callback", {"code": code, "state": state}, status=400)
    assert ("token", "code already used") in simulator.events
    assert "ログインできませんでした" in refused.text
    assert thief.get("/api/v1/me", status=401)
    assert people(db) == 1  # only the genuine one
    text = " ".join(r.getMessage() for r in caplog.records if r.name == LOGGER)
    assert "token endpoint answered 400 invalid_grant" in text
    assert code not in text


def test_the_same_callback_twice_is_refused_the_second_time(browser, line_app, db, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    visit = visit_line(browser)
    other = new_browser(line_app)
    other.get("/login/line", status=302)  # a login in progress, with its own state
    browser.get(visit.callback, status=302)
    assert other.get(visit.callback, status=400)
    assert other.get("/api/v1/me", status=401)


def test_a_code_older_than_ten_minutes_is_refused(browser, db, caplog, sim_now):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    visit = visit_line(browser)
    sim_now.shift = dt.timedelta(minutes=11)
    refused = browser.get(visit.callback, status=400)
    assert_refused(browser, db, refused, caplog, "token endpoint answered 400 invalid_grant")


def test_id_token_expiry_is_checked_on_the_apps_clock(browser, db, caplog, set_now):
    """The clock service decides `exp`: two hours ahead of LINE, an hour-long token is stale."""
    caplog.set_level(logging.WARNING, logger=LOGGER)
    set_now(dt.datetime.now(dt.UTC) + dt.timedelta(hours=2))
    visit = visit_line(browser)
    refused = browser.get(visit.callback, status=400)
    assert_refused(browser, db, refused, caplog, "id_token expired")


def test_a_login_left_open_too_long_is_refused(browser, db, caplog, set_now):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    now = set_now(dt.datetime.now(dt.UTC))
    visit = visit_line(browser)
    set_now(now + dt.timedelta(minutes=11))
    refused = browser.get(visit.callback, status=400)
    assert "もう一度ログインしてください" in refused.text
    assert_refused(browser, db, refused, caplog, "longer than the code lives")


def test_a_person_who_is_not_a_friend_is_told_how_to_become_one(browser, db, caplog, simulator):
    """P-1: only friends of the city's LINE official account take part; nobody is created."""
    caplog.set_level(logging.WARNING, logger=LOGGER)
    visit = visit_line(browser, "/wallet", friend="not_friend")
    refused = browser.get(visit.callback, status=403)
    assert "お友だち追加" in refused.text and "刈谷市LINE公式アカウント" in refused.text
    assert ADD_FRIEND_URL in refused.text
    assert "ブロックを解除" in refused.text
    assert ("friendship", "not friend") in simulator.events
    assert_refused(browser, db, refused, caplog, "not a friend")


def test_cancelling_on_line_is_refused_with_its_own_page(browser, db, caplog):
    """ACCESS_DENIED from LINE: a Japanese page saying the login was cancelled."""
    caplog.set_level(logging.WARNING, logger=LOGGER)
    visit = visit_line(browser, action="deny")
    assert "error=ACCESS_DENIED" in visit.callback
    refused = browser.get(visit.callback, status=400)
    assert "ログインが取り消されました" in refused.text
    assert_refused(browser, db, refused, caplog, "ACCESS_DENIED")


def test_line_unreachable_is_a_clear_japanese_page(engine, db, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    app = make_config(
        {
            **BASE_SETTINGS,
            "kariya.line.authorize_url": dead + "/oauth2/v2.1/authorize",
            "kariya.line.token_url": dead + "/oauth2/v2.1/token",
            "kariya.line.redirect_uri": CALLBACK,
        }
    ).make_wsgi_app()
    phone = webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost"})
    state = parse_qs(urlsplit(phone.get("/login/line").location).query)["state"][0]
    page = phone.get("/login/line/callback", {"code": "abc", "state": state}, status=503)
    assert "ただいまLINEと通信できません" in page.text
    assert_refused(phone, db, page, caplog, "token endpoint unreachable")


# -- the simulator speaks the protocol --------------------------------------------------------


def authorize(simulator, **overrides) -> tuple[str, str]:
    """A code from the simulator for a known verifier; returns (code, verifier)."""
    verifier = "v" * 50
    form = {
        "response_type": "code",
        "client_id": CHANNEL_ID,
        "redirect_uri": CALLBACK,
        "state": "s" * 20,
        "scope": "openid profile",
        "nonce": "n" * 20,
        "code_challenge": pkce_challenge(verifier),
        "code_challenge_method": "S256",
        "sim_user_id": USER,
        "sim_friend": "friend",
        "action": "allow",
    } | overrides
    answer = httpx.post(simulator.base + "/oauth2/v2.1/authorize", data=form)
    return parse_qs(urlsplit(line_answer(answer)).query)["code"][0], verifier


def exchange(simulator, code, verifier, /, **overrides):
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "client_id": CHANNEL_ID,
        "client_secret": CHANNEL_SECRET,
        "code_verifier": verifier,
    } | overrides
    return httpx.post(simulator.base + "/oauth2/v2.1/token", data=form)


@pytest.mark.parametrize(
    "overrides,error",
    [
        ({"client_secret": "x" * 32}, "invalid_client"),
        ({"client_id": "1"}, "invalid_client"),
        ({"code_verifier": "w" * 50}, "invalid_grant"),
        ({"redirect_uri": "http://localhost/elsewhere"}, "invalid_grant"),
        ({"code": "made-up"}, "invalid_grant"),
        ({"grant_type": "refresh_token"}, "unsupported_grant_type"),
    ],
)
def test_simulator_token_endpoint_checks_client_code_redirect_and_pkce(simulator, overrides, error):
    code, verifier = authorize(simulator)
    answer = exchange(simulator, code, verifier, **overrides)
    assert answer.status_code == 400 and answer.json()["error"] == error


def test_simulator_code_is_single_use_and_a_replay_revokes_its_tokens(simulator):
    code, verifier = authorize(simulator)
    first = exchange(simulator, code, verifier)
    assert first.status_code == 200
    tokens = first.json()
    assert tokens["token_type"] == "Bearer" and tokens["scope"] == "openid profile"
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    friendship = simulator.base + "/friendship/v1/status"
    assert httpx.get(friendship, headers=bearer).json() == {"friendFlag": True}
    assert exchange(simulator, code, verifier).json()["error"] == "invalid_grant"
    assert httpx.get(friendship, headers=bearer).status_code == 401
    verified = httpx.post(
        simulator.base + "/oauth2/v2.1/verify",
        data={"id_token": tokens["id_token"], "client_id": CHANNEL_ID, "nonce": "n" * 20},
    )
    assert verified.status_code == 200 and verified.json()["sub"] == USER
    wrong = httpx.post(
        simulator.base + "/oauth2/v2.1/verify",
        data={"id_token": tokens["id_token"], "client_id": CHANNEL_ID, "nonce": "other"},
    )
    assert wrong.status_code == 400


def test_simulator_never_redirects_to_an_unregistered_callback(simulator):
    url = (
        simulator.base
        + "/oauth2/v2.1/authorize?"
        + urlencode(
            {
                "response_type": "code",
                "client_id": CHANNEL_ID,
                "redirect_uri": "https://evil.example/cb",
                "state": "s" * 20,
                "scope": "openid profile",
            }
        )
    )
    page = httpx.get(url)
    assert page.status_code == 400 and "redirect_uri" in page.text
    assert "location" not in page.headers


def test_simulator_page_escapes_what_it_echoes(simulator):
    """The authorize page (a template, autoescaped) shows the request's values as text."""
    query = {
        "response_type": "code",
        "client_id": CHANNEL_ID,
        "redirect_uri": CALLBACK,
        "state": '"><script>alert(1)</script>',
        "scope": "openid profile",
        "sim_name": "<b>刈谷</b>",
    }
    page = httpx.get(simulator.base + "/oauth2/v2.1/authorize?" + urlencode(query))
    assert page.status_code == 200 and "LINEでログイン (シミュレーター)" in page.text
    assert "<script>" not in page.text and "<b>" not in page.text
    assert "&lt;b&gt;刈谷&lt;/b&gt;" in page.text


# -- the development wiring: the simulator inside the app, on the app's clock ---------------------


def test_development_wiring_logs_in_through_the_simulator_mounted_in_the_app(engine, db, set_now):
    """development.ini points LINE's URLs at /dev/line; the simulator there stamps its tokens
    with the app's clock, so a demo with the clock set to round 1 logs in too."""
    set_now(ROUND1.replace(hour=10))
    server = LiveServer()
    base = server.base
    settings = {
        **BASE_SETTINGS,
        "kariya.public_url": base,
        "kariya.line.authorize_url": base + "/dev/line/oauth2/v2.1/authorize",
        "kariya.line.token_url": base + "/dev/line/oauth2/v2.1/token",
        "kariya.line.friendship_url": base + "/dev/line/friendship/v1/status",
    }
    server.start(make_config(settings).make_wsgi_app())
    try:
        with httpx.Client(base_url=base, timeout=30) as phone:
            start = phone.get("/login/line", params={"next": "/wallet"})
            assert start.status_code == 302
            page = phone.get(start.headers["location"])
            assert "LINEでログイン (シミュレーター)" in page.text
            form = hidden_fields(page.text) | {
                "sim_user_id": USER,
                "sim_name": "刈谷 太郎",
                "sim_friend": "friend",
                "action": "allow",
            }
            back = phone.post("/dev/line/oauth2/v2.1/authorize", data=form)
            assert back.headers["location"].startswith(base + "/login/line/callback?code=")
            done = phone.get(back.headers["location"])
            assert done.status_code == 302, done.text
            assert done.headers["location"] == base + "/profile?next=%2Fwallet"
            assert phone.get("/api/v1/me").json()["display_name"] == "刈谷 太郎"
    finally:
        server.stop()
    assert people(db) == 1


def test_simulator_is_absent_unless_its_setting_is_on(engine):
    settings = {**BASE_SETTINGS, "kariya.line.simulator": "false"}
    settings |= {"kariya.line.channel_id": CHANNEL_ID, "kariya.line.channel_secret": CHANNEL_SECRET}
    app = webtest.TestApp(make_config(settings).make_wsgi_app())
    app.get("/dev/line/oauth2/v2.1/authorize", status=404)
    app.post("/dev/line/oauth2/v2.1/token", status=404)
