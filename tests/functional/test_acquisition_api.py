"""POST /api/v1/acquisitions and friends (DESIGN.md section 5; I-1, I-2, I-3)."""

import datetime as dt
import time

import pytest
import sqlalchemy as sa
import webtest
from sqlalchemy import func, select

from kariya import make_config
from kariya.clock import Clock
from kariya.coupons import acquisition, rounds, ticker
from kariya.models import Acquisition, Campaign, Coupon, IdempotencyRecord, LedgerEntry, Round
from kariya.settings import settings_of
from tests.conftest import BASE_SETTINGS
from tests.helpers import ROUND1, load_campaign, login_resident


@pytest.fixture
def open_round(db, testapp, set_now):
    load_campaign(db, total=60_000, rounds=6)
    set_now(ROUND1.replace(hour=10))
    testapp.put_json(
        "/dev/clock", {"now": ROUND1.replace(hour=10).isoformat(), "frozen": True}
    )  # runs the tick
    assert db.scalar(select(Round.state).where(Round.number == 1)) == "open"


def counts(db):
    db.expire_all()
    return (
        db.scalar(select(func.count()).select_from(Acquisition)),
        db.scalar(select(func.count()).select_from(Coupon)),
        db.scalar(select(Round.issued).where(Round.number == 1)),
    )


def test_acquire_gives_four_coupons_once(testapp, open_round, db):
    token = login_resident(testapp)
    response = testapp.post("/api/v1/acquisitions", headers={"X-CSRF-Token": token}, status=201)
    body = response.json
    assert body["round"] == 1
    assert [c["face"] for c in body["coupons"]] == [500] * 4
    assert {c["state"] for c in body["coupons"]} == {"issued"}
    assert body["coupons"][0]["expires_at"] == "2024-01-22T00:00:00+09:00"
    again = testapp.post("/api/v1/acquisitions", headers={"X-CSRF-Token": token}, status=409)
    assert again.json["error"] == "ALREADY_ACQUIRED"
    assert "取得済み" in again.json["message"]
    assert counts(db) == (1, 4, 2_000)
    listed = testapp.get("/api/v1/coupons").json["coupons"]
    assert [c["id"] for c in listed] == [c["id"] for c in body["coupons"]]


def test_current_round_tells_what_the_person_can_do(testapp, open_round):
    anonymous = testapp.get("/api/v1/rounds/current").json
    assert (
        anonymous["round"] == 1
        and anonymous["state"] == "open"
        and anonymous["can_acquire"] is False
    )
    token = login_resident(testapp, profile=False)
    assert testapp.get("/api/v1/rounds/current").json["reason"] == "PROFILE_REQUIRED"
    testapp.put_json(
        "/api/v1/me/profile",
        {"age_band": "20s", "area": "outside", "agreed_terms": 1},
        headers={"X-CSRF-Token": token},
    )
    status = testapp.get("/api/v1/rounds/current").json
    assert status["can_acquire"] is True and status["reason"] is None
    assert (status["quota"], status["remaining_amount"]) == (10_000, 10_000)
    testapp.post("/api/v1/acquisitions", headers={"X-CSRF-Token": token}, status=201)
    status = testapp.get("/api/v1/rounds/current").json
    assert (status["can_acquire"], status["reason"], status["remaining_amount"]) == (
        False,
        "ALREADY_ACQUIRED",
        8_000,
    )


def test_profile_is_required_first(testapp, open_round, db):
    token = login_resident(testapp, profile=False)
    response = testapp.post("/api/v1/acquisitions", headers={"X-CSRF-Token": token}, status=403)
    assert response.json["error"] == "PROFILE_REQUIRED"
    assert counts(db) == (0, 0, 0)


def test_profile_needs_valid_choices_and_agreement(testapp, open_round):
    token = login_resident(testapp, profile=False)
    bad = testapp.put_json(
        "/api/v1/me/profile",
        {"age_band": "200s", "area": "mars"},
        headers={"X-CSRF-Token": token},
        status=422,
    )
    assert bad.json["error"] == "INVALID"
    assert testapp.get("/api/v1/me").json["profile"] is None
    options = testapp.get("/api/v1/profile-options").json
    assert {"code": "outside", "label": "市外"} in options["areas"]


def test_idempotency_key_retry_returns_the_same_result(testapp, open_round, db):
    token = login_resident(testapp)
    headers = {"X-CSRF-Token": token, "Idempotency-Key": "tap-1"}
    first = testapp.post("/api/v1/acquisitions", headers=headers, status=201).json
    second = testapp.post("/api/v1/acquisitions", headers=headers, status=201).json
    assert first == second
    assert counts(db) == (1, 4, 2_000)
    different = testapp.post(
        "/api/v1/acquisitions",
        '{"x": 1}',
        headers={**headers, "Content-Type": "application/json"},
        status=409,
    )
    assert different.json["error"] == "IDEMPOTENCY_MISMATCH"


def test_not_open_round_is_refused(testapp, db, set_now):
    load_campaign(db)
    set_now(ROUND1.replace(hour=10))  # the period has begun, but no tick has opened the round yet
    token = login_resident(testapp)
    response = testapp.post("/api/v1/acquisitions", headers={"X-CSRF-Token": token}, status=409)
    assert response.json["error"] == "NOT_OPEN"
    set_now("2023-12-01T00:00:00+09:00")
    assert (
        testapp.post("/api/v1/acquisitions", headers={"X-CSRF-Token": token}, status=409).json[
            "error"
        ]
        == "NOT_OPEN"
    )
    assert counts(db) == (0, 0, 0)


@pytest.mark.parametrize(
    "body,content_type,status,code",
    [
        ("{not json", "application/json", 422, "MALFORMED"),
        ("[1, 2]", "application/json", 422, "MALFORMED"),
        ("a=b", "application/x-www-form-urlencoded", 415, "UNSUPPORTED_MEDIA_TYPE"),
        ('{"pad": "' + "x" * 20_000 + '"}', "application/json", 413, "TOO_LARGE"),
    ],
)
def test_bad_bodies_are_refused_and_write_nothing(
    testapp, open_round, db, body, content_type, status, code
):
    token = login_resident(testapp)
    response = testapp.post(
        "/api/v1/acquisitions",
        body,
        headers={"X-CSRF-Token": token, "Content-Type": content_type},
        status=status,
    )
    assert response.json["error"] == code
    assert response.json["message"]
    assert counts(db) == (0, 0, 0)


def test_expired_or_missing_session_gets_401(testapp, open_round, db):
    response = testapp.post("/api/v1/acquisitions", status=401)
    assert response.json["error"] == "UNAUTHENTICATED"
    testapp.set_cookie("kariya_session", "tampered-value")
    assert testapp.get("/api/v1/me", status=401).json["error"] == "UNAUTHENTICATED"
    assert counts(db) == (0, 0, 0)


def test_staff_cannot_acquire(testapp, open_round, db):
    from tests.helpers import csrf_from, login_staff, make_user

    make_user(db, "secretariat")
    page = login_staff(testapp, "secretariat").follow()
    response = testapp.post(
        "/api/v1/acquisitions", headers={"X-CSRF-Token": csrf_from(page.text)}, status=403
    )
    assert response.json["error"] == "FORBIDDEN"
    assert counts(db) == (0, 0, 0)


def test_halt_stops_acquisition_at_once(testapp, open_round, db):
    from tests.helpers import csrf_from, login_staff, make_user

    resident = testapp.__class__(testapp.app, extra_environ={"HTTP_HOST": "localhost"})
    token = login_resident(resident)
    make_user(db, "city")
    page = login_staff(testapp, "city").follow()
    testapp.post(
        "/city/issuance/halt",
        {"reason": "予算到達のため", "csrf_token": csrf_from(page.text)},
        status=302,
    )
    response = resident.post("/api/v1/acquisitions", headers={"X-CSRF-Token": token}, status=409)
    assert response.json["error"] == "NOT_OPEN"
    assert "停止" in response.json["message"]
    assert resident.get("/api/v1/rounds/current").json["state"] == "halted"
    page = testapp.get("/city/")
    testapp.post("/city/issuance/resume", {"csrf_token": csrf_from(page.text)}, status=302)
    resident.post("/api/v1/acquisitions", headers={"X-CSRF-Token": token}, status=201)


def test_database_error_mid_acquisition_leaves_nothing_half_made(testapp, open_round, db, engine):
    """A real database fault after the acquisition and coupons were inserted (a trigger that
    raises on the ledger insert): the request fails and no part of it remains."""
    token = login_resident(testapp)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE FUNCTION test_fail() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$ LANGUAGE plpgsql"
            )
        )
        conn.execute(
            sa.text(
                "CREATE TRIGGER test_fail BEFORE INSERT ON ledger_posting FOR EACH ROW EXECUTE FUNCTION test_fail()"
            )
        )
    try:
        response = testapp.post(
            "/api/v1/acquisitions",
            headers={"X-CSRF-Token": token, "Idempotency-Key": "k"},
            status=500,
        )
        assert response.json["error"] == "SERVER_ERROR"
        assert "Traceback" not in response.text
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TRIGGER test_fail ON ledger_posting"))
            conn.execute(sa.text("DROP FUNCTION test_fail()"))
    assert counts(db) == (0, 0, 0)
    assert (
        db.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "acquire")
        )
        == 0
    )
    assert db.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0
    # And the same person can then acquire normally.
    testapp.post(
        "/api/v1/acquisitions", headers={"X-CSRF-Token": token, "Idempotency-Key": "k"}, status=201
    )
    assert counts(db) == (1, 4, 2_000)


def one_pack_round_with_the_memo(db, seconds: int):
    """A running round with a quota of one pack, and an app on the system clock with the
    sold-out memo on (it is off with the tests' settable clock)."""
    started = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    load_campaign(db, total=2_000, rounds=1, start=started)
    ticker.run_due(db, Clock(), actor="test")
    db.commit()
    config = make_config(
        {
            **BASE_SETTINGS,
            "kariya.clock": "system",
            "kariya.acquisition.sold_out_memo_seconds": str(seconds),
        }
    )
    return config, webtest.TestApp(config.make_wsgi_app(), extra_environ={"HTTP_HOST": "localhost"})


def test_late_arrivals_after_a_sell_out_are_refused_without_the_database(engine, db):
    """I-3, PATTERNS.md (admission control): once a process has seen the round sold out, the
    rush's late arrivals get SOLD_OUT from memory, with no SQL at all, for a short while
    (kariya.acquisition.sold_out_memo_seconds); after that the database answers again, so a halt
    decided meanwhile is told as a halt. Needs the system clock: the memo is off with a settable
    one, which may move back."""
    config, app = one_pack_round_with_the_memo(db, seconds=1)
    statements = []
    sa.event.listen(
        config.registry["db.engine"],
        "before_cursor_execute",
        lambda *args: statements.append(args[2]),
    )
    first = login_resident(app, "U" + "1" * 32)
    keyed = {"X-CSRF-Token": first, "Idempotency-Key": "first-tap"}
    made = app.post("/api/v1/acquisitions", headers=keyed, status=201)
    late = login_resident(app, "U" + "2" * 32)
    # The first late arrival reads the committed sell-out (the last pack's transaction might
    # have rolled back, so it is not remembered before); the next ones never reach the database.
    told = app.post("/api/v1/acquisitions", headers={"X-CSRF-Token": late}, status=409)
    assert told.json["error"] == "SOLD_OUT"
    later = login_resident(app, "U" + "3" * 32)
    statements.clear()
    refused = app.post("/api/v1/acquisitions", headers={"X-CSRF-Token": later}, status=409)
    assert statements == []
    # The same answer as the database's (answered from the view, not raised).
    assert refused.json == told.json and refused.content_type == told.content_type
    assert counts(db)[0] == 1
    # A retry with its Idempotency-Key (its first answer lost) gets that answer, not SOLD_OUT.
    again = login_resident(app, "U" + "1" * 32)
    retried = app.post("/api/v1/acquisitions", headers={**keyed, "X-CSRF-Token": again}, status=201)
    assert retried.json == made.json
    later = login_resident(app, "U" + "3" * 32)

    # The city halts issuance; once the memo has lapsed the database tells the truth again.
    campaign = db.scalar(select(Campaign))
    rounds.halt(db, campaign, actor="city:test", now=dt.datetime.now(dt.UTC), reason="テスト")
    db.commit()
    time.sleep(1.1)
    refused = app.post("/api/v1/acquisitions", headers={"X-CSRF-Token": later}, status=409)
    assert refused.json["error"] == "NOT_OPEN" and "停止" in refused.json["message"]
    assert statements != []


def test_late_arrivals_are_told_before_the_session_store_is_read(engine, db, monkeypatch):
    """I-9, issue 16 (admission control): once the memo holds, a late arrival with a session
    cookie this app signed is answered SOLD_OUT before its session's record is read: no Redis
    command, no SQL, the same answer as the view's and the same security headers. It changes
    nothing, so the CSRF token is not compared with the session's (only sent, as no page of
    another site can). Without a signed cookie or the token, or with an Idempotency-Key, the
    call takes the whole path as before."""
    config, app = one_pack_round_with_the_memo(db, seconds=5)
    first = login_resident(app, "U" + "1" * 32)
    app.post("/api/v1/acquisitions", headers={"X-CSRF-Token": first}, status=201)
    late = login_resident(app, "U" + "2" * 32)
    told = app.post("/api/v1/acquisitions", headers={"X-CSRF-Token": late}, status=409)  # the DB's

    statements, commands = [], []
    sa.event.listen(
        config.registry["db.engine"], "before_cursor_execute", lambda *a: statements.append(a[2])
    )
    client = config.registry["kariya.session_store"].client
    send = client.execute_command
    monkeypatch.setattr(
        client, "execute_command", lambda *a, **kw: commands.append(a[0]) or send(*a, **kw)
    )
    for token in (late, "not-compared"):  # nothing is changed either way
        refused = app.post("/api/v1/acquisitions", headers={"X-CSRF-Token": token}, status=409)
        assert refused.json == told.json and refused.content_type == told.content_type
        assert refused.headers["X-Frame-Options"] == "DENY"
        assert "Content-Security-Policy" in refused.headers
    assert statements == [] and commands == []
    no_token = app.post("/api/v1/acquisitions", status=403)
    assert no_token.json["error"] == "CSRF" and commands != []  # the whole path

    # No signed cookie: the whole path, which refuses a caller it does not know.
    cookie = app.cookies["kariya_session"]
    for value in (None, cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")):
        stranger = webtest.TestApp(app.app, extra_environ={"HTTP_HOST": "localhost"})
        if value is not None:
            stranger.set_cookie("kariya_session", value)
        answer = stranger.post("/api/v1/acquisitions", expect_errors=True)
        assert answer.status_int in (401, 403) and answer.json["error"] != "SOLD_OUT"

    # With a key the single path runs: the first answer of that key, or the database's.
    statements.clear()
    keyed = {"X-CSRF-Token": late, "Idempotency-Key": "late-tap"}
    assert app.post("/api/v1/acquisitions", headers=keyed, status=409).json["error"] == "SOLD_OUT"
    assert statements != []
    assert counts(db)[0] == 1


def test_the_sold_out_memo_is_off_with_a_settable_clock():
    memo = acquisition.sold_out_memo
    assert memo(settings_of({"kariya.clock": "settable"})) is None
    assert memo(settings_of({"kariya.acquisition.sold_out_memo_seconds": "0"})) is None
    assert memo(settings_of({"kariya.acquisition.sold_out_memo_seconds": "1"})) is not None
