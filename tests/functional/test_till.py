"""At the till (I-10, P-5, issue 15): the store's code of the day on the resident's confirmation
screen and in the store portal, the staff PIN a store may opt into, and the day lock after
three wrong PINs, against PostgreSQL and Redis. Round 1 runs 2024-01-15 to 2024-01-22 (JST)."""

from __future__ import annotations

import collections
import json
import re
import threading

import pytest
import webtest
from sqlalchemy import event, func, select

from kariya.audit import ledger_check
from kariya.callcenter import timeline
from kariya.clock import FixedClock
from kariya.models import Campaign, Coupon, IdempotencyRecord, Person, Redemption, Store, TillLock
from kariya.redemptions import till, uses
from kariya.residents import idempotency
from kariya.settings import settings_of
from tests.helpers import (
    ROUND1,
    LiveServer,
    Phone,
    csrf_from,
    load_campaign,
    login_resident,
    login_staff,
    make_store,
    make_user,
    storm,
)

PIN = "2580"
LOCKED_WORDS = ("3回まちがえた", "今日(1月15日)は", "明日になると", "0566-00-0000")


@pytest.fixture(autouse=True)
def no_counters(redis_client):
    """The wrong-PIN counters live in Redis, which the tables' cleaning does not reach."""
    for key in redis_client.scan_iter("kariya:till:*"):
        redis_client.delete(key)
    yield


@pytest.fixture
def ctx(registry):
    return till.of(settings_of(registry))


@pytest.fixture
def shop(db, testapp):
    load_campaign(db, total=60_000, rounds=6)
    store = make_store(db, "S0001", "かりや青果店")
    make_store(db, "S0002", "喫茶みなと")
    testapp.put_json("/dev/clock", {"now": ROUND1.replace(hour=10).isoformat(), "frozen": True})
    return store


@pytest.fixture
def phone(testapp, shop):
    token = login_resident(testapp)
    testapp.post("/api/v1/acquisitions", headers={"X-CSRF-Token": token}, status=201)
    return token


def with_pin(db, ctx, code: str = "S0001", pin: str = PIN) -> Store:
    store = db.scalar(select(Store).where(Store.code == code))
    till.set_pin(db, FixedClock(ROUND1), ctx, store, pin, pin, actor="test")
    db.commit()
    return store


def use(testapp, token, store, pin=None, status=201, key=None, bill=1200):
    body = {"store_token": store.qr_token, "coupons": 1, "bill_amount": bill}
    if pin is not None:
        body["pin"] = pin
    headers = {"X-CSRF-Token": token}
    if key:
        headers["Idempotency-Key"] = key
    return testapp.post_json("/api/v1/redemptions", body, headers=headers, status=status).json


def used(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(Coupon).where(Coupon.state == "used"))


def assert_ledger_ok(db):
    db.expire_all()
    report = ledger_check.check(db, db.scalar(select(Campaign)))
    assert report.ok, report.text()


def staff_portal(app, db, code: str = "S0001") -> webtest.TestApp:
    """A second browser: the store's staff logged into their portal."""
    make_user(db, "store", f"staff-{code}", store_code=code)
    desk = webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.0.0.2"})
    login_staff(desk, f"staff-{code}")
    return desk


def portal_code(desk) -> str:
    page = desk.get("/store/")
    return re.search(r'id="day-code">(\d+)<', page.text).group(1)


def tries(db, ctx, store, line_user_id: str = "U" + "0" * 32) -> int:
    """The PIN tries counted today (15 Jan) for the resident at the store."""
    person = db.scalar(select(Person).where(Person.line_user_id == line_user_id))
    return ctx.attempts.taken(till._counter_key(store.id, person.id, ROUND1.date()))


def set_clock(testapp, when: str):
    testapp.put_json("/dev/clock", {"now": when, "frozen": True})


# --- the code of the day ------------------------------------------------------------------------


def test_day_code_on_the_phone_equals_the_portal_and_changes_at_midnight(
    testapp, app, db, shop, phone
):
    """I-10: the phone (GET /qr, which the confirmation screen shows) and the portal show the
    same 3 digits for the store and day; at midnight JST both move to the next day's code."""
    desk = staff_portal(app, db)
    codes = []
    for when in ("2024-01-15T10:00:00+09:00", "2024-01-15T23:59:59+09:00"):
        set_clock(testapp, when)
        shown = testapp.get(f"/api/v1/qr/{shop.qr_token}").json["till"]["day_code"]
        assert re.fullmatch(r"\d{3}", shown)
        assert portal_code(desk) == shown
        assert desk.get("/store/api/redemptions").json["day_code"] == shown  # the live poll
        codes.append(shown)
    assert codes[0] == codes[1]  # the same all day
    for day in range(16, 22):
        set_clock(testapp, f"2024-01-{day}T00:00:00+09:00")
        shown = testapp.get(f"/api/v1/qr/{shop.qr_token}").json["till"]["day_code"]
        assert portal_code(desk) == shown
        codes.append(shown)
    assert codes[2] != codes[1]  # 15 Jan 23:59:59 and 16 Jan 00:00 JST: a new code
    assert len(set(codes)) >= 5  # seven days, 1,000 values: no fixed code
    page = desk.get("/store/")
    assert "本日(1月21日)の照合番号" in page.text and "かりや青果店" in page.text


def test_day_code_needs_the_server_key_and_differs_by_store(ctx, db, shop):
    """Not derivable from the QR: another key gives other codes; two stores differ on a day."""
    other = db.scalar(select(Store).where(Store.code == "S0002"))
    day = ROUND1.date()
    mine = [till.day_code(ctx, shop.id, day.replace(day=d)) for d in range(15, 22)]
    stranger = till._build("another-secret", "", 3, "")
    assert mine != [till.day_code(stranger, shop.id, day.replace(day=d)) for d in range(15, 22)]
    assert mine != [till.day_code(ctx, other.id, day.replace(day=d)) for d in range(15, 22)]


# --- stores without a PIN: unchanged -------------------------------------------------------------


def test_stores_without_a_pin_use_as_before_with_no_extra_work(
    testapp, db, ctx, shop, phone, redis_client
):
    """The use API of DESIGN §5 is unchanged where no PIN is set: the same answer, a `pin` sent
    anyway ignored, no Redis command, and not one SQL statement more than a use that knows
    nothing of the till (the hash comes with the store row the use reads anyway)."""
    preview = testapp.get(f"/api/v1/qr/{shop.qr_token}").json
    assert preview["till"] == {
        "day_code": preview["till"]["day_code"],
        "pin_required": False,
        "locked": False,
    }
    body = use(testapp, phone, shop)
    assert set(body) == {
        "id",
        "store",
        "coupons",
        "amount",
        "bill_amount",
        "confirmation_code",
        "used_at",
    }
    assert use(testapp, phone, shop, pin="0000")["amount"] == 500  # a stray PIN is ignored
    assert list(redis_client.scan_iter("kariya:till:*")) == []

    other = db.scalar(select(Store).where(Store.code == "S0002"))
    person = db.scalar(select(Person).where(Person.line_user_id == "U" + "0" * 32))
    clock = FixedClock(ROUND1.replace(hour=11))
    counts = []
    for context in (None, ctx):
        statements: list[str] = []

        def seen(_conn, _cursor, statement, *_args, into=statements):
            into.append(statement)

        event.listen(db.get_bind(), "before_cursor_execute", seen)
        try:
            uses.redeem(db, clock, person.id, other.qr_token, 1, 1000, pin="0000", till=context)
        finally:
            event.remove(db.get_bind(), "before_cursor_execute", seen)
        counts.append(len(statements))
        assert not any("till_lock" in s for s in statements)
    db.commit()
    assert counts[0] == counts[1]
    assert list(redis_client.scan_iter("kariya:till:*")) == []
    assert used(db) == 4


# --- the PIN --------------------------------------------------------------------------------------


def test_store_sets_its_pin_in_the_portal_and_it_is_stored_hashed(app, db, shop):
    desk = staff_portal(app, db)
    page = desk.get("/store/till")
    assert "使っていません" in page.text
    token = csrf_from(page.text)
    for pin, again, code in (
        ("2580", "2581", "一致しません"),
        ("1234", "1234", "推測されやすい"),
        ("12a4", "12a4", "数字4けた"),
    ):
        refused = desk.post(
            "/store/till", {"pin": pin, "pin_confirm": again, "csrf_token": token}, status=422
        )
        assert code in refused.text and "暗証番号は変わっていません" in refused.text
    db.expire_all()
    assert db.get(Store, shop.id).till_pin_hash is None  # nothing written by a refusal
    desk.post(
        "/store/till", {"pin": "２５８０", "pin_confirm": PIN, "csrf_token": token}, status=302
    )
    page = desk.get("/store/till")
    assert "暗証番号を設定しました" in page.text and "使用中" in page.text
    db.expire_all()
    stored = db.get(Store, shop.id)
    assert re.fullmatch(r"[0-9a-f]{64}", stored.till_pin_hash) and PIN not in stored.till_pin_hash
    assert stored.till_pin_set_by and stored.till_pin_set_at is not None
    # The same PIN at another store hashes differently (the store is in the message).
    other = with_pin(db, till.of(settings_of(app.registry)), "S0002")
    assert other.till_pin_hash != stored.till_pin_hash
    desk.post("/store/till/off", {"csrf_token": token}, status=302)
    db.expire_all()
    assert db.get(Store, shop.id).till_pin_hash is None


def test_only_the_store_manages_its_pin(testapp, app, db, shop, phone):
    testapp.get("/store/till", status=403)  # a resident
    make_user(db, "agent", "agent1")
    desk = webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.0.0.3"})
    login_staff(desk, "agent1")
    desk.get("/store/till", status=403)


def test_pin_required_when_the_store_opted_in(testapp, db, ctx, shop, phone):
    """A store with a PIN: no PIN → 403 PIN_REQUIRED, a malformed one → 422 INVALID_PIN (not
    counted), the right one (full-width digits too) → the use, the response as ever."""
    with_pin(db, ctx)
    preview = testapp.get(f"/api/v1/qr/{shop.qr_token}").json["till"]
    assert preview["pin_required"] is True and preview["locked"] is False
    body = use(testapp, phone, shop, status=403)
    assert body["error"] == "PIN_REQUIRED" and "お店の人" in body["message"]
    assert use(testapp, phone, shop, pin="", status=403)["error"] == "PIN_REQUIRED"
    for typed in ("123", "12345", "abcd", 12.5, True):
        body = use(testapp, phone, shop, pin=typed, status=422)
        assert body["error"] == "INVALID_PIN" and "数字4けた" in body["message"]
    assert used(db) == 0
    assert tries(db, ctx, shop) == 0
    body = use(testapp, phone, shop, pin="２５８０")
    assert body["amount"] == 500 and len(body["confirmation_code"]) == 6
    assert used(db) == 1
    # A PIN still leaves other rules first: a low bill is refused before any PIN is checked.
    assert use(testapp, phone, shop, pin="0000", bill=500, status=422)["error"] == "BILL_TOO_LOW"
    assert tries(db, ctx, shop) == 0
    assert_ledger_ok(db)


def test_the_pin_stays_out_of_the_idempotency_record(testapp, db, ctx, shop, phone):
    """A retry with the same key after a wrong PIN runs again; the record's hash does not
    hold the PIN (10,000 tries would find it from a hash of the body)."""
    with_pin(db, ctx)
    assert use(testapp, phone, shop, pin="0007", key="tap-1", status=403)["error"] == "WRONG_PIN"
    first = use(testapp, phone, shop, pin=PIN, key="tap-1")
    assert use(testapp, phone, shop, pin=PIN, key="tap-1") == first  # replayed
    db.expire_all()
    record = db.scalar(select(IdempotencyRecord).where(IdempotencyRecord.key == "tap-1"))
    body = {"store_token": shop.qr_token, "coupons": 1, "bill_amount": 1200}
    with_pin_body = json.dumps({**body, "pin": PIN}).encode()
    assert record.request_hash != idempotency.request_hash(
        "POST", "/api/v1/redemptions", with_pin_body
    )
    assert record.request_hash == idempotency.request_hash(
        "POST", "/api/v1/redemptions", json.dumps(body, sort_keys=True).encode()
    )
    assert used(db) == 1


def test_three_wrong_pins_lock_the_store_for_the_day_and_it_unlocks_the_next_day(
    testapp, db, ctx, shop, phone
):
    """Wrong ×3 → STORE_LOCKED for the rest of the JST day, the right PIN included; another
    store is not locked; the call centre sees the lock; at midnight the QR works again."""
    with_pin(db, ctx)
    with_pin(db, ctx, "S0002", "7391")
    first = use(testapp, phone, shop, pin="0001", status=403)
    assert first["error"] == "WRONG_PIN" and "あと2回" in first["message"]
    assert "あと1回" in use(testapp, phone, shop, pin="0002", status=403)["message"]
    third = use(testapp, phone, shop, pin="0003", status=403)
    assert third["error"] == "STORE_LOCKED"
    assert all(word in third["message"] for word in LOCKED_WORDS), third["message"]
    again = use(testapp, phone, shop, pin=PIN, status=403)  # the right PIN: still locked
    assert again["error"] == "STORE_LOCKED"
    assert use(testapp, phone, shop, status=403)["error"] == "STORE_LOCKED"
    preview = testapp.get(f"/api/v1/qr/{shop.qr_token}").json["till"]
    assert preview["locked"] is True and "明日になると" in preview["message"]
    assert used(db) == 0
    # Only this store, only this resident.
    other = db.scalar(select(Store).where(Store.code == "S0002"))
    use(testapp, phone, other, pin="7391")
    neighbour = webtest.TestApp(testapp.app, extra_environ={"HTTP_HOST": "localhost"})
    token = login_resident(neighbour, "U" + "1" * 32)
    neighbour.post("/api/v1/acquisitions", headers={"X-CSRF-Token": token}, status=201)
    use(neighbour, token, shop, pin=PIN)
    # The lock is on record for the call centre, although its request was rolled back.
    db.expire_all()
    person = db.scalar(select(Person).where(Person.line_user_id == "U" + "0" * 32))
    (lock,) = db.scalars(select(TillLock)).all()
    assert (lock.person_id, lock.store_id, lock.day) == (person.id, shop.id, ROUND1.date())
    texts = [e.text for e in timeline.build(db, person, ROUND1.replace(hour=11))]
    assert any("かりや青果店(S0001)" in t and "1月15日はこのお店で使えなく" in t for t in texts)
    # Late that evening: still locked. From midnight JST: the right PIN works again.
    set_clock(testapp, "2024-01-15T23:59:59+09:00")
    assert use(testapp, phone, shop, pin=PIN, status=403)["error"] == "STORE_LOCKED"
    set_clock(testapp, "2024-01-16T00:00:00+09:00")
    assert testapp.get(f"/api/v1/qr/{shop.qr_token}").json["till"]["locked"] is False
    assert use(testapp, phone, shop, pin=PIN)["amount"] == 500
    assert used(db) == 3
    assert_ledger_ok(db)


def test_a_right_pin_gives_its_try_back(testapp, db, ctx, shop, phone):
    """Two wrong, then right: the right one does not count, so the day is not lost."""
    with_pin(db, ctx)
    use(testapp, phone, shop, pin="0001", status=403)
    use(testapp, phone, shop, pin="0002", status=403)
    use(testapp, phone, shop, pin=PIN)
    assert tries(db, ctx, shop) == 2
    use(testapp, phone, shop, pin=PIN)  # the second coupon at this store
    assert used(db) == 2


# --- concurrency ----------------------------------------------------------------------------------


def test_simultaneous_wrong_pins_never_get_more_than_three_checks(app, db, ctx, shop, monkeypatch):
    """Twelve guesses at the same instant from two phones of one resident, each check slowed
    down so that the guesses overlap: exactly 3 PINs are ever compared, 2 answers say WRONG_PIN
    and the other 10 STORE_LOCKED; nothing is used."""
    with_pin(db, ctx)
    server = LiveServer().start(app)
    try:
        phones = [Phone(server.base, "U" + "0" * 32) for _ in range(2)]
        phones[0].call(
            "PUT",
            "/api/v1/me/profile",
            {"age_band": "70s", "area": "kariya", "agreed_terms": 1},
            {"X-CSRF-Token": phones[0].token},
        )
        assert (
            phones[0].call("POST", "/api/v1/acquisitions", None, {"X-CSRF-Token": phones[0].token})[
                0
            ]
            == 201
        )
        checked = []
        lock = threading.Lock()
        real = till._pin_hash

        def slow_hash(*args):
            with lock:
                checked.append(1)
            threading.Event().wait(0.05)
            return real(*args)

        monkeypatch.setattr(till, "_pin_hash", slow_hash)
        results = storm(
            [
                (
                    lambda phone=phones[i % 2], n=i: phone.call(
                        "POST",
                        "/api/v1/redemptions",
                        {
                            "store_token": shop.qr_token,
                            "coupons": 1,
                            "bill_amount": 1200,
                            "pin": f"{1000 + n}",
                        },
                        {"X-CSRF-Token": phone.token},
                    )
                )
                for i in range(12)
            ]
        )
    finally:
        server.stop()
    outcome = collections.Counter(body.get("error") for _status, body in results)
    assert len(checked) == 3
    assert outcome == {"WRONG_PIN": 2, "STORE_LOCKED": 10}, outcome
    assert {status for status, _ in results} == {403}
    assert tries(db, ctx, shop) == 3
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(TillLock)) == 1
    assert db.scalar(select(func.count()).select_from(Redemption)) == 0
