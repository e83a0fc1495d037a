"""Issue 14, the web side: sessions that end (defect 2), the client's real address (3), login
limits that no stranger can turn against a person, and the way back (4), the browser's guards
(5), the public URL instead of the Host header and no secrets in the cookie (10)."""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import webtest
from sqlalchemy import select

from kariya import make_config
from kariya.models import LoginAttempt, LoginUnlock, StaffUser
from kariya.staff import accounts
from tasks import configure
from tests.conftest import BASE_SETTINGS
from tests.helpers import csrf_from, login_resident, login_staff, make_store, make_user

ROOT = Path(__file__).resolve().parents[2]
COOKIE = "kariya_session"


@pytest.fixture
def staff(db):
    make_store(db, "S0001")
    for role in ("secretariat", "city", "agent"):
        make_user(db, role)
    make_user(db, "store", store_code="S0001")


def client(app, address: str = "10.0.0.1", **environ) -> webtest.TestApp:
    return webtest.TestApp(
        app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": address, **environ}
    )


def with_cookie(app, value: str, address: str = "10.0.0.1") -> webtest.TestApp:
    """Another browser holding a copy of someone's session cookie."""
    thief = client(app, address)
    thief.set_cookie(COOKIE, value)
    return thief


def logout(testapp, page_text: str):
    testapp.post("/logout", {"csrf_token": csrf_from(page_text)}, status=302)


# -- defect 2: a session ends for good -------------------------------------------------------


def test_a_cookie_copied_before_logout_no_longer_reaches_staff_pages(testapp, staff):
    page = login_staff(testapp, "secretariat").follow()
    copied = testapp.cookies[COOKIE]
    token = csrf_from(page.text)
    assert with_cookie(testapp.app, copied).get("/secretariat/", status=200)
    logout(testapp, page.text)
    thief = with_cookie(testapp.app, copied)
    assert "/login" in thief.get("/secretariat/", status=302).location
    # Nor does it run an action with the CSRF token it had.
    thief.post("/secretariat/tick", {"csrf_token": token}, status=[302, 403])
    assert thief.get("/api/v1/staff/me", expect_errors=True).status_code in (401, 404)


def test_a_residents_cookie_copied_before_logout_no_longer_reads_me(testapp, db):
    login_resident(testapp)
    copied = testapp.cookies[COOKIE]
    page = testapp.get("/home")
    with_cookie(testapp.app, copied).get("/api/v1/me", status=200)
    logout(testapp, page.text)
    assert with_cookie(testapp.app, copied).get("/api/v1/me", status=401).json["error"] == (
        "UNAUTHENTICATED"
    )


def test_logout_deletes_the_server_side_record(testapp, staff, redis_client):
    before = set(redis_client.scan_iter("kariya:session:*"))
    page = login_staff(testapp, "city").follow()
    mine = set(redis_client.scan_iter("kariya:session:*")) - before
    assert len(mine) == 1  # the login form's anonymous session was replaced, not kept
    logout(testapp, page.text)
    assert not (mine & set(redis_client.scan_iter("kariya:session:*")))


def test_a_password_change_ends_every_session_of_the_account(testapp, staff, db):
    login_staff(testapp, "agent")
    other_desk = client(testapp.app, "10.0.0.2")
    login_staff(other_desk, "agent")
    for browser in (testapp, other_desk):
        browser.get("/callcenter/", status=200)
    user = db.scalar(select(StaffUser).where(StaffUser.username == "agent"))
    accounts.set_password(db, user, "a-new-password-2024")
    db.commit()
    for browser in (testapp, other_desk):
        browser.get("/callcenter/", status=302)
    assert login_staff(testapp, "agent", "a-new-password-2024").status_code == 302


def test_a_role_change_ends_the_session(testapp, staff, db):
    login_staff(testapp, "agent")
    testapp.get("/callcenter/", status=200)
    user = db.scalar(select(StaffUser).where(StaffUser.username == "agent"))
    accounts.set_role(db, user, "secretariat")
    db.commit()
    testapp.get("/callcenter/", status=302)
    testapp.get("/secretariat/", status=302)  # not promoted in place: log in again


def test_an_idle_staff_session_ends(testapp, staff, monkeypatch):
    login_staff(testapp, "secretariat")
    testapp.get("/secretariat/", status=200)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 61 * 60)  # kariya.session_staff_idle_minutes
    testapp.get("/secretariat/", status=302)


def test_an_active_resident_session_lives_on(testapp, monkeypatch):
    login_resident(testapp)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 61 * 60)
    testapp.get("/api/v1/me", status=200)  # residents idle for 8 hours by default


def test_a_new_session_id_at_login(testapp, staff):
    testapp.get("/login")
    before = testapp.cookies[COOKIE]
    login_staff(testapp, "city")
    assert testapp.cookies[COOKIE] != before
    with_cookie(testapp.app, before).get("/city/", status=302)


def test_a_forged_session_id_is_nobody(testapp, staff):
    forged = base64.urlsafe_b64encode(b"x" * 64 + b"guessed-id").rstrip(b"=").decode()
    with_cookie(testapp.app, forged).get("/city/", status=302)


# -- defect 10: the cookie carries no secret; the Host header is not trusted -------------------


def test_the_cookie_carries_no_state_nonce_or_verifier(testapp):
    start = testapp.get("/login/line", status=302)
    query = parse_qs(urlsplit(start.location).query)
    cookie = testapp.cookies[COOKIE]
    decoded = base64.urlsafe_b64decode(cookie + "=" * (-len(cookie) % 4))
    for secret in (query["state"][0], query["nonce"][0]):
        assert secret.encode() not in decoded
        assert secret not in cookie
    assert b"verifier" not in decoded and b"line_login" not in decoded
    assert len(cookie) < 160  # a signature and an id, nothing more


def test_redirects_use_the_public_url_not_the_host_header(testapp, staff):
    response = testapp.get("/city/", headers={"Host": "evil.example"}, status=302)
    assert response.location.startswith("http://localhost/login?")
    forwarded = testapp.get(
        "/city/", headers={"X-Forwarded-Host": "evil.example"}, status=302
    ).location
    assert "evil" not in forwarded
    page = testapp.get("/login", headers={"Host": "evil.example"})
    assert "evil.example" not in page.text


# -- defect 3: X-Forwarded-For counts only from our own proxies --------------------------------


def test_a_clients_x_forwarded_for_is_ignored(testapp, staff, db):
    for i in range(20):
        response = login_staff(
            client(testapp.app, HTTP_X_FORWARDED_FOR=f"198.51.100.{i}"), f"guess{i}", "wrong-pw-x"
        )
        assert "ユーザー名またはパスワードが正しくありません" in response.text
    spoofed = client(testapp.app, HTTP_X_FORWARDED_FOR="198.51.100.200")
    response = login_staff(spoofed, "secretariat", status=429)
    assert "しばらくログインできません" in response.text
    addresses = set(db.scalars(select(LoginAttempt.address)))
    assert addresses == {"10.0.0.1"}


@pytest.fixture(scope="module")
def proxied_app(engine, registry):
    """Behind our own proxy at 10.0.0.1, served as https://coupon.example.jp."""
    settings = {
        **BASE_SETTINGS,
        "kariya.trusted_proxies": "10.0.0.1, 10.1.0.0/16",
        "kariya.public_url": "https://coupon.example.jp",
    }
    app = make_config(settings).make_wsgi_app()
    configure(registry)  # the Celery app back to the suite's app
    return app


def test_behind_a_trusted_proxy_the_forwarded_client_is_recorded(proxied_app, staff, db):
    browser = client(
        proxied_app,
        "10.0.0.1",
        HTTP_HOST="coupon.example.jp",
        # The client's own claim first, then what our proxies appended.
        HTTP_X_FORWARDED_FOR="203.0.113.66, 198.51.100.7, 10.1.2.3",
        HTTP_REFERER="https://coupon.example.jp/login",
    )
    login_staff(browser, "city", "wrong-password-x")
    outside = client(
        proxied_app,
        "192.0.2.10",  # not a proxy of ours: its header is a claim, not a fact
        HTTP_HOST="coupon.example.jp",
        HTTP_X_FORWARDED_FOR="198.51.100.99",
        HTTP_REFERER="https://coupon.example.jp/login",
    )
    login_staff(outside, "city", "wrong-password-x")
    assert list(db.scalars(select(LoginAttempt.address).order_by(LoginAttempt.id))) == [
        "198.51.100.7",
        "192.0.2.10",
    ]


# -- defect 4: throttled by account and address, 429, and the way back -------------------------


def test_a_stranger_cannot_lock_a_person_out_of_their_own_desk(testapp, staff):
    stranger = client(testapp.app, "10.9.9.9")
    for _ in range(5):
        login_staff(stranger, "city", "wrong-password-x")
    refused = login_staff(stranger, "city", status=429)
    assert "しばらくログインできません" in refused.text
    assert "事務局" in refused.text
    assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60
    # The city's official, at their own desk, logs in.
    assert login_staff(testapp, "city").status_code == 302


def test_the_secretariat_unlocks_a_locked_account_and_it_is_recorded(testapp, staff, db):
    for _ in range(5):
        login_staff(testapp, "city", "wrong-password-x")
    login_staff(testapp, "city", status=429)
    office = client(testapp.app, "10.0.0.2")
    login_staff(office, "secretariat")
    page = office.get("/secretariat/login-locks")
    assert "city" in page.text and "10.0.0.1" in page.text
    token = csrf_from(page.text)
    office.post(
        "/secretariat/login-locks/unlock",
        {"username": "city", "reason": "", "csrf_token": token},
        status=422,
    )
    done = office.post(
        "/secretariat/login-locks/unlock",
        {"username": "city", "reason": "本人から電話で依頼(折り返しで確認)", "csrf_token": token},
        status=302,
    )
    assert "ログイン制限を解除しました" in done.follow().text
    record = db.scalar(select(LoginUnlock))
    assert (record.username, record.unlocked_by) == ("city", "staff:secretariat")
    assert record.reason == "本人から電話で依頼(折り返しで確認)"
    assert login_staff(testapp, "city").status_code == 302


def test_only_the_secretariat_unlocks(testapp, staff):
    login_staff(testapp, "city")
    testapp.get("/secretariat/login-locks", status=403)
    page = testapp.get("/city/")
    testapp.post(
        "/secretariat/login-locks/unlock",
        {"username": "city", "reason": "x", "csrf_token": csrf_from(page.text)},
        status=403,
    )


def test_throttled_attempts_are_recorded_but_do_not_count(testapp, staff, db):
    for _ in range(5):
        login_staff(testapp, "city", "wrong-password-x")
    for _ in range(3):
        login_staff(testapp, "city", status=429)
    attempts = db.scalars(select(LoginAttempt).order_by(LoginAttempt.id)).all()
    assert [(a.succeeded, a.throttled) for a in attempts] == [(False, False)] * 5 + [
        (False, True)
    ] * 3


# -- defect 5: the browser's guards ------------------------------------------------------------


def csp(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {d.split()[0]: d for d in (p.strip() for p in policy.split(";")) if d}


@pytest.mark.parametrize("path,status", [("/", 200), ("/login", 200), ("/api/v1/me", 401)])
def test_every_answer_carries_the_security_headers(testapp, path, status):
    response = testapp.get(path, status=status)
    policy = csp(response)
    assert policy["frame-ancestors"] == "frame-ancestors 'none'"
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert policy["object-src"] == "object-src 'none'"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response.headers  # http: no HSTS
    assert "X-Tm" not in response.headers


def test_hsts_where_the_public_url_is_https(proxied_app):
    response = client(proxied_app, HTTP_HOST="coupon.example.jp").get("/")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_the_pages_scripts_carry_the_requests_nonce(testapp, staff, db):
    from tests.helpers import load_campaign

    load_campaign(db)
    login_staff(testapp, "store")
    page = testapp.get("/store/")
    nonce = re.search(r"'nonce-([^']+)'", page.headers["Content-Security-Policy"]).group(1)
    scripts = re.findall(r"<script([^>]*)>", page.text)
    inline = [s for s in scripts if "src=" not in s]
    assert inline and all(f'nonce="{nonce}"' in s for s in inline)
    again = testapp.get("/store/")
    assert nonce not in again.headers["Content-Security-Policy"]  # one per request


def test_no_template_has_an_inline_script_without_nonce_or_an_inline_style():
    """Under the CSP an inline style attribute or event handler is ignored, a script or style
    element runs only with the request's nonce."""
    found = []
    for path in sorted((ROOT / "templates").rglob("*.jinja2")):
        if "print" in path.parts or "mail" in path.parts:
            continue
        text = path.read_text("utf-8")
        for tag in re.findall(r"<(?:script|style)\b[^>]*>", text):
            if "src=" not in tag and "nonce=" not in tag:
                found.append(f"{path.name}: {tag}")
        found += [f"{path.name}: {m}" for m in re.findall(r"\sstyle=\"[^\"]*\"", text)]
        found += [f"{path.name}: {m}" for m in re.findall(r"\son[a-z]+=\"", text)]
        found += [f"{path.name}: javascript:" for _ in re.findall(r"javascript:", text)]
    assert found == []


def test_without_the_session_store_pages_answer_503_in_japanese(testapp, staff, monkeypatch):
    import redis

    login_staff(testapp, "secretariat")
    store = testapp.app.registry["kariya.session_store"]
    monkeypatch.setattr(store, "client", redis.Redis(port=1, socket_connect_timeout=0.5))
    page = testapp.get("/secretariat/", status=503)
    assert "ただいま利用できません" in page.text and page.headers["Retry-After"]
    assert testapp.get("/api/v1/me", status=503).json["error"] == "UNAVAILABLE"


def test_without_redis_development_keeps_sessions_in_memory_and_logout_still_ends_them(
    engine, registry, staff
):
    """`make run` has no Redis: the same rules, the records in the process."""
    from kariya.security.sessions import MemoryStore

    app = make_config({**BASE_SETTINGS, "kariya.redis_url": ""}).make_wsgi_app()
    configure(registry)
    assert isinstance(app.registry["kariya.session_store"], MemoryStore)
    browser = client(app)
    page = login_staff(browser, "city").follow()
    copied = browser.cookies[COOKIE]
    logout(browser, page.text)
    with_cookie(app, copied).get("/city/", status=302)
