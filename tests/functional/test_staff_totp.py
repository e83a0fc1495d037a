"""The staff's second factor (issue 14, I-10: no unauthorised access; D-1: personal data
secured): TOTP enrolment with a QR code and recovery codes, the login's second step (drift,
replay, throttling, recovery codes), half logins that reach nothing, the requirement for city
and secretariat accounts, and the secretariat's reset for a lost phone."""

from __future__ import annotations

import base64
import datetime as dt
import re
import time

import pyotp
import pytest
import webtest
from pyramid.exceptions import ConfigurationError
from sqlalchemy import select

from kariya import make_config
from kariya import settings as kariya_settings
from kariya.models import LoginAttempt, RecoveryCode, SecondFactorReset, StaffUser
from kariya.staff import second_factor
from tasks import configure
from tests.conftest import BASE_SETTINGS
from tests.helpers import (
    PASSWORD,
    csrf_from,
    login_staff,
    make_store,
    make_user,
    run_cli,
    write_cli_ini,
)
from tests.unit.test_qr import decode, png_image
from tests.unit.test_settings import GOOD_SECRET, LINE_CHANNEL, production

# 15 s into a 30-second step, so that one step either side is unambiguous.
T0 = dt.datetime(2026, 12, 3, 1, 0, 15, tzinfo=dt.UTC)


class Phone:
    """The person's authenticator app; `now` is real time as the server sees it too."""

    def __init__(self, monkeypatch):
        self.now = T0
        self.secret = ""
        monkeypatch.setattr(second_factor, "authenticator_time", lambda: self.now)

    def code(self, steps: int = 0) -> str:
        """The code the app shows `steps` steps from now (a phone whose clock drifts)."""
        return pyotp.TOTP(self.secret).at(self.now + dt.timedelta(seconds=30 * steps))

    def wrong(self, seed: int = 0) -> str:
        """Six digits that no step near now shows (so a "wrong code" is surely wrong)."""
        near = {self.code(steps) for steps in range(-3, 4)}
        while f"{seed:06d}" in near:
            seed += 1
        return f"{seed:06d}"

    def tick(self, steps: int = 1) -> None:
        self.now += dt.timedelta(seconds=30 * steps)


@pytest.fixture
def phone(monkeypatch):
    return Phone(monkeypatch)


@pytest.fixture
def staff(db):
    make_store(db, "S0001")
    for role in ("secretariat", "city", "agent"):
        make_user(db, role)
    make_user(db, "store", store_code="S0001")
    make_user(db, "secretariat", username="secretariat2")


def browser(app, address: str = "10.0.0.1") -> webtest.TestApp:
    return webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": address})


def enrol(client, phone: Phone) -> list[str]:
    """Enrol the logged-in (or half logged-in) person; returns the recovery codes shown."""
    page = client.get("/staff/second-factor")
    phone.secret = re.search(r'id="secret">([^<]+)<', page.text).group(1).replace(" ", "")
    done = client.post(
        "/staff/second-factor", {"code": phone.code(), "csrf_token": csrf_from(page.text)}
    )
    phone.tick()  # the code that switched it on is spent
    return re.findall(r'<li class="code-cell">([^<]+)</li>', done.text)


def second_step(client, code: str, status=None):
    page = client.get("/login/code")
    return client.post(
        "/login/code", {"code": code, "csrf_token": csrf_from(page.text)}, status=status
    )


def logout(client, home: str) -> None:
    page = client.get(home)
    client.post("/logout", {"csrf_token": csrf_from(page.text)}, status=302)


def user(db, username: str) -> StaffUser:
    db.expire_all()
    return db.scalar(select(StaffUser).where(StaffUser.username == username))


def enrolled(testapp, phone, username: str = "city", home: str = "/city/") -> list[str]:
    """`username` enrols, then logs out."""
    login_staff(testapp, username)
    codes = enrol(testapp, phone)
    logout(testapp, home)
    return codes


# -- enrolment ------------------------------------------------------------------------------------


def test_enrolment_shows_the_secret_as_a_qr_code_and_text_and_needs_one_valid_code(
    testapp, staff, db, phone
):
    login_staff(testapp, "city")
    page = testapp.get("/staff/second-factor")
    assert "2段階認証の設定" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    # The CSP holds: an inline PNG (img-src 'self' data:), no script, no inline style.
    policy = page.headers["Content-Security-Policy"]
    assert "img-src 'self' data:" in policy and "'unsafe-inline'" not in policy
    secret = re.search(r'id="secret">([^<]+)<', page.text).group(1).replace(" ", "")
    image = re.search(r'src="data:image/png;base64,([^"]+)"', page.text).group(1)
    uri = decode(png_image(base64.b64decode(image)))
    assert uri.startswith("otpauth://totp/") and f"secret={secret}" in uri
    assert "city" in uri and "issuer=" in uri
    # The same secret while the page is reloaded (the phone scanned it once).
    reloaded = testapp.get("/staff/second-factor").text
    assert re.search(r'id="secret">([^<]+)<', reloaded).group(1).replace(" ", "") == secret
    phone.secret = secret
    token = csrf_from(page.text)

    wrong = testapp.post(
        "/staff/second-factor", {"code": phone.wrong(), "csrf_token": token}, status=422
    )
    assert "確認コードが正しくありません" in wrong.text
    assert user(db, "city").totp_enabled_at is None  # not switched on by a wrong code

    done = testapp.post("/staff/second-factor", {"code": phone.code(), "csrf_token": token})
    assert done.status_code == 200 and done.headers["Cache-Control"] == "no-store"
    codes = re.findall(r'<li class="code-cell">([^<]+)</li>', done.text)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(re.fullmatch(r"[a-z2-9]{4}(-[a-z2-9]{4}){3}", c) for c in codes)
    assert "この画面でしか表示されません" in done.text

    account = user(db, "city")
    assert account.totp_enabled_at is not None
    assert secret not in account.totp_secret  # stored encrypted
    assert second_factor.unseal(testapp.app.registry["kariya.settings"], account.totp_secret)
    stored = db.scalars(select(RecoveryCode.code_hash)).all()
    assert len(stored) == 10
    assert not {c.replace("-", "") for c in codes} & set(stored)  # hashes only
    assert all(c not in h for c in codes for h in stored)

    # Still logged in, and the secret is never shown again.
    testapp.get("/city/", status=200)
    again = testapp.get("/staff/second-factor")
    assert "2段階認証は有効です" in again.text and "残りの回復コード: 10個" in again.text
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    assert secret[:8] not in again.text.replace(" ", "") and grouped not in again.text
    assert "data:image/png" not in again.text


def test_enrolling_ends_the_accounts_other_sessions(testapp, staff, phone):
    elsewhere = browser(testapp.app, "10.0.0.9")
    login_staff(elsewhere, "agent")  # agents may enrol, need not
    elsewhere.get("/callcenter/", status=200)
    login_staff(testapp, "agent")
    enrol(testapp, phone)
    testapp.get("/callcenter/", status=200)  # this session carries on, with the factor
    elsewhere.get("/callcenter/", status=302)  # a session without it ends


# -- the login's second step --------------------------------------------------------------------


def test_login_with_a_code_and_the_half_login_reaches_nothing(testapp, staff, db, phone):
    enrolled(testapp, phone, "secretariat", "/secretariat/")
    form = testapp.get("/login")
    half = testapp.post(
        "/login",
        {
            "username": "secretariat",
            "password": PASSWORD,
            "next": "/secretariat/ledger",
            "csrf_token": csrf_from(form.text),
        },
        status=302,
    )
    assert half.location == "http://localhost/login/code"
    attempt = db.scalars(select(LoginAttempt).order_by(LoginAttempt.id.desc())).first()
    assert (attempt.step, attempt.succeeded, attempt.awaiting_code) == ("password", True, True)
    # Half logged in: no staff page, no staff API.
    assert testapp.get("/secretariat/", status=302).location == "http://localhost/login/code"
    testapp.get("/secretariat/login-locks", status=302)
    assert testapp.get("/api/v1/staff/me", status=401).json["error"] == "UNAUTHENTICATED"
    testapp.get("/api/v1/staff/dashboard", status=401)
    code_page = testapp.get("/login/code")
    assert "確認コード" in code_page.text
    testapp.post_json(
        "/api/v1/staff/inquiries",
        {"caller_type": "other", "channel": "phone", "category": "other", "subject": "x"},
        headers={"X-CSRF-Token": csrf_from(code_page.text)},
        status=401,
    )

    done = second_step(testapp, phone.code())
    assert done.location == "http://localhost/secretariat/ledger"  # where it was going
    assert testapp.get("/api/v1/staff/me").json["username"] == "secretariat"
    testapp.get("/secretariat/", status=200)
    attempt = db.scalars(select(LoginAttempt).order_by(LoginAttempt.id.desc())).first()
    assert (attempt.step, attempt.succeeded, attempt.address) == ("code", True, "10.0.0.1")


def test_a_wrong_code_is_refused_and_counts_into_the_login_throttle(testapp, staff, db, phone):
    enrolled(testapp, phone)
    login_staff(testapp, "city")
    refused = second_step(testapp, phone.wrong())
    assert "確認コードが正しくありません" in refused.text
    testapp.get("/city/", status=302)
    second_step(testapp, phone.wrong(100000))
    # Back to the password (a success of its own) does not give the guesser a fresh count.
    login_staff(testapp, "city")
    for seed in (111111, 222222, 333333):
        second_step(testapp, phone.wrong(seed))
    throttled = second_step(testapp, phone.code(), status=429)  # even the right code, now
    assert "しばらくログインできません" in throttled.text
    assert 0 < int(throttled.headers["Retry-After"]) <= 15 * 60
    login_staff(testapp, "city", status=429)  # and the password step too
    # The person at another desk still gets in (per account and address).
    other = browser(testapp.app, "10.0.0.2")
    login_staff(other, "city")
    assert second_step(other, phone.code()).location == "http://localhost/city/"
    codes = db.scalars(
        select(LoginAttempt).where(LoginAttempt.step == "code").order_by(LoginAttempt.id)
    ).all()
    assert [(a.succeeded, a.throttled) for a in codes] == [(False, False)] * 5 + [
        (False, True),
        (True, False),
    ]


def test_a_code_is_accepted_once(testapp, staff, phone):
    enrolled(testapp, phone)
    code = phone.code()
    login_staff(testapp, "city")
    second_step(testapp, code, status=302)
    logout(testapp, "/city/")
    login_staff(testapp, "city")
    replayed = second_step(testapp, code)  # the same code, still inside its 30 seconds
    assert "この確認コードはすでに使われました" in replayed.text
    testapp.get("/city/", status=302)
    replayed = second_step(testapp, phone.code(-1))  # an older one inside the drift: no
    assert "すでに使われました" in replayed.text
    phone.tick()
    assert second_step(testapp, phone.code()).location == "http://localhost/city/"


def test_one_step_of_clock_drift_either_side_and_no_more(testapp, staff, phone):
    enrolled(testapp, phone)
    phone.tick(2)
    login_staff(testapp, "city")
    assert second_step(testapp, phone.code(-1)).status_code == 302  # the phone is 30 s behind
    logout(testapp, "/city/")
    phone.tick(3)
    login_staff(testapp, "city")
    assert second_step(testapp, phone.code(+1)).status_code == 302  # 30 s ahead
    logout(testapp, "/city/")
    phone.tick(4)
    login_staff(testapp, "city")
    for steps in (+2, -2):  # a minute out: refused
        assert "確認コードが正しくありません" in second_step(testapp, phone.code(steps)).text
    assert second_step(testapp, phone.code()).status_code == 302


def test_a_recovery_code_works_once(testapp, staff, phone):
    codes = enrolled(testapp, phone)
    login_staff(testapp, "city")
    # As typed from paper: upper case, full-width, spaces instead of hyphens.
    typed = codes[0].upper().replace("-", " ").replace("A", "Ａ")
    assert second_step(testapp, typed).location == "http://localhost/city/"
    assert "残りの回復コード: 9個" in testapp.get("/staff/second-factor").text
    logout(testapp, "/city/")
    login_staff(testapp, "city")
    assert "確認コードが正しくありません" in second_step(testapp, codes[0]).text
    testapp.get("/city/", status=302)
    assert second_step(testapp, codes[1]).status_code == 302


def test_a_half_login_expires(testapp, staff, phone, monkeypatch):
    enrolled(testapp, phone)
    login_staff(testapp, "city")
    token = csrf_from(testapp.get("/login/code").text)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 11 * 60)  # views.second_factor: 10 min
    again = testapp.post("/login/code", {"code": phone.code(), "csrf_token": token}, status=302)
    assert again.location == "http://localhost/login"
    assert "もう一度ユーザー名とパスワードでログインしてください" in again.follow().text
    testapp.get("/city/", status=302)
    testapp.get("/login/code", status=302)


def test_accounts_without_a_second_factor_log_in_as_before(testapp, staff, db):
    """DESIGN §5.2: POST /login with username, password and csrf_token is the whole login."""
    for username, home in (("city", "/city/"), ("store", "/store/"), ("agent", "/callcenter/")):
        done = login_staff(testapp, username, status=302)
        assert done.location == f"http://localhost{home}"
        assert testapp.get("/api/v1/staff/me").json["username"] == username
    attempts = db.scalars(select(LoginAttempt)).all()
    assert {(a.step, a.succeeded, a.awaiting_code) for a in attempts} == {("password", True, False)}


# -- required of city and secretariat accounts -----------------------------------------------------


def test_production_requires_the_second_factor():
    merged = kariya_settings.load(
        production(), environ={"KARIYA_SESSION_SECRET": GOOD_SECRET, **LINE_CHANNEL}
    )
    assert merged["kariya.staff.require_totp"] == "true"  # as production.ini ships
    with pytest.raises(ConfigurationError, match="kariya.staff.require_totp"):
        kariya_settings.load(
            production(**{"kariya.staff.require_totp": "false"}),
            environ={"KARIYA_SESSION_SECRET": GOOD_SECRET, **LINE_CHANNEL},
        )
    with pytest.raises(ConfigurationError, match="totp_key"):
        kariya_settings.load(
            production(),
            environ={
                "KARIYA_SESSION_SECRET": GOOD_SECRET,
                "KARIYA_TOTP_KEY": "x" * 40,
                **LINE_CHANNEL,
            },
        )


@pytest.fixture(scope="module")
def required_app(engine, registry):
    """The suite's app with `kariya.staff.require_totp = true`, as in production."""
    app = make_config({**BASE_SETTINGS, "kariya.staff.require_totp": "true"}).make_wsgi_app()
    configure(registry)  # the Celery app back to the suite's app
    return app


def test_a_required_account_enrols_after_the_password_and_reaches_nothing_else(
    required_app, staff, db, phone
):
    client = browser(required_app)
    half = login_staff(client, "city", status=302)
    assert half.location == "http://localhost/staff/second-factor"
    for path in ("/city/", "/city/dashboard", "/secretariat/"):
        assert client.get(path, status=302).location == "http://localhost/staff/second-factor"
    client.get("/api/v1/staff/me", status=401)
    client.get("/login/code", status=302)  # nothing to give a code for yet
    page = client.get("/staff/second-factor")
    assert "このアカウントでは2段階認証が必要です" in page.text
    assert len(enrol(client, phone)) == 10
    client.get("/city/", status=200)
    assert client.get("/api/v1/staff/me").json["username"] == "city"
    logout(client, "/city/")
    # From now on: the password, then the code.
    assert login_staff(client, "city").location == "http://localhost/login/code"
    assert second_step(client, phone.code()).location == "http://localhost/city/"


def test_where_it_is_required_agents_and_stores_still_log_in_with_the_password(required_app, staff):
    client = browser(required_app)
    assert login_staff(client, "agent").location == "http://localhost/callcenter/"
    assert login_staff(client, "store").location == "http://localhost/store/"
    login_staff(client, "secretariat")
    client.get("/secretariat/", status=302)


def test_a_session_from_before_the_requirement_ends(testapp, required_app, staff):
    login_staff(testapp, "city")  # where the second factor is not required
    testapp.get("/city/", status=200)
    same_cookie = browser(required_app)
    same_cookie.set_cookie("kariya_session", testapp.cookies["kariya_session"])
    same_cookie.get("/city/", status=302)


# -- the secretariat's reset --------------------------------------------------------------------


def test_the_secretariat_resets_another_persons_second_factor_with_a_reason(
    testapp, staff, db, phone
):
    login_staff(testapp, "city")
    enrol(testapp, phone)
    testapp.get("/city/", status=200)
    office = browser(testapp.app, "10.0.0.2")
    login_staff(office, "secretariat")
    page = office.get("/secretariat/second-factors")
    assert "2段階認証のリセット" in page.text
    row = re.search(r"<tr>\s*<td>city.*?</tr>", page.text, re.S).group(0)
    assert "有効" in row and "リセットする" in row
    token = csrf_from(page.text)
    refused = office.post(
        "/secretariat/second-factors/reset",
        {"username": "city", "reason": " ", "csrf_token": token},
        status=422,
    )
    assert "理由" in refused.text
    assert user(db, "city").totp_enabled_at is not None
    done = office.post(
        "/secretariat/second-factors/reset",
        {
            "username": "city",
            "reason": "スマートフォン紛失(折り返しで本人確認)",
            "csrf_token": token,
        },
        status=302,
    )
    assert "city の2段階認証をリセットしました" in done.follow().text
    record = db.scalar(select(SecondFactorReset))
    assert (record.username, record.reset_by) == ("city", "staff:secretariat")
    assert record.reason == "スマートフォン紛失(折り返しで本人確認)"
    account = user(db, "city")
    assert (account.totp_secret, account.totp_enabled_at, account.totp_last_step) == (None,) * 3
    assert db.scalars(select(RecoveryCode)).all() == []
    testapp.get("/city/", status=302)  # the sessions of the account end
    # Not required here: the password alone again (where required, enrolment comes next).
    assert login_staff(testapp, "city").location == "http://localhost/city/"
    log = office.get("/secretariat/second-factors")
    assert "スマートフォン紛失(折り返しで本人確認)" in log.text


def test_nobody_resets_their_own_second_factor_and_only_the_secretariat_resets(
    testapp, staff, db, phone
):
    login_staff(testapp, "secretariat")
    enrol(testapp, phone)
    page = testapp.get("/secretariat/second-factors")
    assert "ご自身のため不可" in page.text
    refused = testapp.post(
        "/secretariat/second-factors/reset",
        {"username": "secretariat", "reason": "紛失", "csrf_token": csrf_from(page.text)},
        status=409,
    )
    assert "ご自身の2段階認証はリセットできません" in refused.text
    assert user(db, "secretariat").totp_enabled_at is not None
    assert db.scalars(select(SecondFactorReset)).all() == []
    # Another secretariat operator can; the city cannot.
    city = browser(testapp.app, "10.0.0.3")
    login_staff(city, "city")
    city.get("/secretariat/second-factors", status=403)
    city.post(
        "/secretariat/second-factors/reset",
        {
            "username": "secretariat",
            "reason": "x",
            "csrf_token": csrf_from(city.get("/city/").text),
        },
        status=403,
    )
    colleague = browser(testapp.app, "10.0.0.4")
    login_staff(colleague, "secretariat2")
    colleague.post(
        "/secretariat/second-factors/reset",
        {
            "username": "secretariat",
            "reason": "機種変更(本人から依頼)",
            "csrf_token": csrf_from(colleague.get("/secretariat/").text),
        },
        status=302,
    )
    assert user(db, "secretariat").totp_enabled_at is None


def test_the_command_line_resets_when_no_operator_can(testapp, staff, db, phone, tmp_path):
    """The way back when every secretariat operator has lost their phone and codes."""
    enrolled(testapp, phone, "secretariat", "/secretariat/")
    ini = write_cli_ini(tmp_path)
    refused = run_cli(ini, "reset-second-factor", "secretariat", "--reason", " ")
    assert refused.returncode == 2 and "理由" in refused.stderr
    done = run_cli(ini, "reset-second-factor", "secretariat", "--reason", "全員の端末を紛失")
    assert done.returncode == 0, done.stderr
    record = db.scalar(select(SecondFactorReset))
    assert record.reset_by.startswith("cli") and record.reason == "全員の端末を紛失"
    assert user(db, "secretariat").totp_enabled_at is None
