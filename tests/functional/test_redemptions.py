"""Using coupons at a store by its QR (I-5, I-6, I-7, P-5) and the store's void, with every
boundary. Round 1 runs 2024-01-15 00:00 to 2024-01-22 00:00 JST; min bills 1,000 / 2,000; at most
2 coupons per person, store and round; void window 10 minutes."""

import datetime as dt

import pytest
from sqlalchemy import event, func, select

from kariya.audit import ledger_check
from kariya.clock import FixedClock
from kariya.models import Campaign, Coupon, Redemption, Store, TransitionRecord
from kariya.stores import registration
from tests.helpers import (
    ROUND1,
    csrf_from,
    load_campaign,
    login_resident,
    login_staff,
    make_store,
    make_user,
)


@pytest.fixture
def shop(db, testapp, set_now):
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


def use(testapp, token, store_token, coupons, bill, status=201, key=None):
    headers = {"X-CSRF-Token": token}
    if key:
        headers["Idempotency-Key"] = key
    return testapp.post_json(
        "/api/v1/redemptions",
        {"store_token": store_token, "coupons": coupons, "bill_amount": bill},
        headers=headers,
        status=status,
    ).json


def used_count(db):
    db.expire_all()
    return db.scalar(select(func.count()).select_from(Coupon).where(Coupon.state == "used"))


def assert_ledger_ok(db):
    db.expire_all()
    report = ledger_check.check(db, db.scalar(select(Campaign)))
    assert report.ok, report.text()


def test_scanning_shows_the_store_and_how_many_may_be_used(testapp, shop, phone):
    body = testapp.get(f"/api/v1/qr/{shop.qr_token}").json
    assert body["store"]["name"] == "かりや青果店" and body["usable_here"] == 2


@pytest.mark.parametrize(
    "coupons,bill,ok", [(1, 999, False), (1, 1000, True), (2, 1999, False), (2, 2000, True)]
)
def test_bill_thresholds(testapp, shop, phone, db, coupons, bill, ok):
    if ok:
        body = use(testapp, phone, shop.qr_token, coupons, bill)
        assert body["amount"] == 500 * coupons and body["bill_amount"] == bill
        assert len(body["confirmation_code"]) == 6 and len(body["coupons"]) == coupons
        assert used_count(db) == coupons
    else:
        body = use(testapp, phone, shop.qr_token, coupons, bill, status=422)
        assert body["error"] == "BILL_TOO_LOW"
        assert f"{1000 * coupons:,}円以上" in body["message"]
        assert used_count(db) == 0
    assert_ledger_ok(db)


def test_third_coupon_at_one_store_is_refused_across_visits(testapp, shop, phone, db):
    use(testapp, phone, shop.qr_token, 1, 1000)
    use(testapp, phone, shop.qr_token, 1, 1500)
    body = use(testapp, phone, shop.qr_token, 1, 3000, status=422)
    assert body["error"] == "STORE_LIMIT" and "あと0枚" in body["message"]
    assert testapp.get(f"/api/v1/qr/{shop.qr_token}").json["usable_here"] == 0
    # Another store is fine: the limit is per store.
    other = db.scalar(select(Store).where(Store.code == "S0002"))
    use(testapp, phone, other.qr_token, 2, 2000)
    assert used_count(db) == 4
    # All four used: nothing left anywhere.
    assert use(testapp, phone, other.qr_token, 1, 1000, status=422)["error"] in (
        "NO_COUPONS",
        "STORE_LIMIT",
    )
    third = make_store(db, "S0003", "本のたから堂")
    assert use(testapp, phone, third.qr_token, 1, 1000, status=422)["error"] == "NO_COUPONS"
    assert_ledger_ok(db)


def test_two_at_once_when_one_is_left_at_this_store(testapp, shop, phone):
    use(testapp, phone, shop.qr_token, 1, 1000)
    assert use(testapp, phone, shop.qr_token, 2, 5000, status=422)["error"] == "STORE_LIMIT"
    use(testapp, phone, shop.qr_token, 1, 1000)


def test_last_moment_of_the_round(testapp, shop, phone, db):
    testapp.put_json("/dev/clock", {"now": "2024-01-21T23:59:59.999+09:00", "frozen": True})
    use(testapp, phone, shop.qr_token, 1, 1000)
    testapp.put_json(
        "/dev/clock", {"now": "2024-01-22T00:00:00+09:00", "frozen": True}
    )  # the tick closes round 1
    body = use(testapp, phone, shop.qr_token, 1, 1000, status=422)
    assert body["error"] == "NO_COUPONS"  # round 2 is open, and this person has none of it
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Coupon).where(Coupon.state == "expired")) == 3
    assert_ledger_ok(db)


@pytest.mark.parametrize(
    "typed,expected", [("１，２００", 1200), ("1,500円", 1500), (" 2000 ", 2000)]
)
def test_bills_typed_as_people_type_them(testapp, shop, phone, typed, expected):
    assert use(testapp, phone, shop.qr_token, 1, typed)["bill_amount"] == expected


@pytest.mark.parametrize("typed", ["abc", "0", "-5", "10000001", "", "1.5", True, None])
def test_nonsense_bills_are_refused_and_change_nothing(testapp, shop, phone, db, typed):
    body = use(testapp, phone, shop.qr_token, 1, typed, status=422)
    assert body["error"] == "INVALID_BILL" and body["message"]
    assert used_count(db) == 0


@pytest.mark.parametrize("coupons", [0, 3, "2", None])
def test_coupon_count_must_be_one_or_two(testapp, shop, phone, coupons):
    assert (
        use(testapp, phone, shop.qr_token, coupons, 5000, status=422)["error"] == "INVALID_COUPONS"
    )


def test_unknown_tampered_and_reissued_qr(testapp, shop, phone, db):
    assert testapp.get("/api/v1/qr/not-a-token", status=404).json["error"] == "BAD_QR"
    # One character changed (never to itself: a token that ends in "x" once made this pass a use).
    tampered = shop.qr_token[:-1] + ("y" if shop.qr_token.endswith("x") else "x")
    assert use(testapp, phone, tampered, 1, 1000, status=404)["error"] == "BAD_QR"
    old = shop.qr_token
    store = db.get(Store, shop.id)
    store.qr_token = registration.new_qr_token()  # reissued: the old sticker is no longer valid
    db.commit()
    assert testapp.get(f"/api/v1/qr/{old}", status=404).json["error"] == "BAD_QR"
    assert testapp.get(f"/api/v1/qr/{store.qr_token}").json["usable_here"] == 2


def test_suspended_store_takes_no_coupons(testapp, shop, phone, db):
    store = db.get(Store, shop.id)
    registration.transition(db, FixedClock(ROUND1), store, "suspend", actor="test", reason="調査")
    db.commit()
    assert (
        testapp.get(f"/api/v1/qr/{shop.qr_token}", status=409).json["error"] == "STORE_NOT_ACTIVE"
    )
    assert use(testapp, phone, shop.qr_token, 1, 1000, status=409)["error"] == "STORE_NOT_ACTIVE"
    assert used_count(db) == 0


def test_idempotent_retry_returns_the_same_use(testapp, shop, phone, db):
    first = use(testapp, phone, shop.qr_token, 1, 1000, key="tap-1")
    again = use(testapp, phone, shop.qr_token, 1, 1000, key="tap-1")
    assert first == again
    assert used_count(db) == 1


def store_staff(testapp, db, code="S0001", username="shop1"):
    from tests.helpers import PASSWORD

    make_user(db, "store", username=username, store_code=code)
    other = testapp.__class__(testapp.app, extra_environ={"HTTP_HOST": "localhost"})
    login_staff(other, username, PASSWORD)
    return other


def void(staff, redemption_id: int, reason: str, status: int = 302):
    """The store's staff void a use from their portal."""
    portal = staff.get("/store/")
    return staff.post(
        f"/store/redemptions/{redemption_id}/void",
        {"reason": reason, "csrf_token": csrf_from(portal.text)},
        status=status,
    )


def test_store_voids_within_the_window_and_the_coupons_come_back(testapp, shop, phone, db):
    body = use(testapp, phone, shop.qr_token, 2, 2000)
    staff = store_staff(testapp, db)
    portal = staff.get("/store/")
    assert body["confirmation_code"] in portal.text
    assert staff.get("/store/api/redemptions").json["uses"][0]["voidable"] is True
    staff.post(
        f"/store/redemptions/{body['id']}/void",
        {"reason": "金額の入力誤り", "csrf_token": csrf_from(portal.text)},
        status=302,
    )
    assert "取り消しました" in staff.get("/store/").text
    assert used_count(db) == 0
    db.expire_all()
    voided = db.get(Redemption, body["id"])
    assert (voided.state, voided.voided_by, voided.void_reason) == (
        "voided",
        "staff:shop1",
        "金額の入力誤り",
    )
    # The store limit is freed too.
    assert testapp.get(f"/api/v1/qr/{shop.qr_token}").json["usable_here"] == 2
    use(testapp, phone, shop.qr_token, 2, 2400)
    assert_ledger_ok(db)
    history = testapp.get("/history")
    assert "お店が取り消しました" in history.text and body["confirmation_code"] in history.text


def test_void_after_the_window_is_refused(testapp, shop, phone, db):
    body = use(testapp, phone, shop.qr_token, 1, 1000)
    staff = store_staff(testapp, db)
    portal = staff.get("/store/")
    testapp.put_json(
        "/dev/clock",
        {
            "now": (ROUND1.replace(hour=10) + dt.timedelta(minutes=10, seconds=1)).isoformat(),
            "frozen": True,
        },
    )
    response = staff.post(
        f"/store/redemptions/{body['id']}/void",
        {"reason": "遅すぎる", "csrf_token": csrf_from(portal.text)},
        status=409,
    )
    assert "10分以内" in response.text
    assert used_count(db) == 1


def test_another_store_cannot_void_or_see(testapp, shop, phone, db):
    body = use(testapp, phone, shop.qr_token, 1, 1000)
    intruder = store_staff(testapp, db, code="S0002", username="shop2")
    portal = intruder.get("/store/")
    assert body["confirmation_code"] not in portal.text
    assert intruder.get("/store/api/redemptions").json["uses"] == []
    intruder.post(
        f"/store/redemptions/{body['id']}/void",
        {"reason": "x", "csrf_token": csrf_from(portal.text)},
        status=404,
    )
    assert used_count(db) == 1


def test_void_needs_a_reason(testapp, shop, phone, db):
    body = use(testapp, phone, shop.qr_token, 1, 1000)
    staff = store_staff(testapp, db)
    void(staff, body["id"], " ", status=422)
    assert used_count(db) == 1


def test_void_in_the_next_round_is_refused_even_within_the_window(testapp, shop, phone, db):
    """I-5, I-6: a void gives coupons back only in their own round; once the round has ended
    (here 2 minutes into the next one, well inside the 10-minute window) it is refused and
    nothing changes."""
    testapp.put_json("/dev/clock", {"now": "2024-01-21T23:58:00+09:00", "frozen": True})
    body = use(testapp, phone, shop.qr_token, 1, 1000)
    staff = store_staff(testapp, db)
    portal = staff.get("/store/")
    testapp.put_json("/dev/clock", {"now": "2024-01-22T00:00:00+09:00", "frozen": True})
    response = staff.post(
        f"/store/redemptions/{body['id']}/void",
        {"reason": "金額の入力誤り", "csrf_token": csrf_from(portal.text)},
        status=422,
    )
    assert "利用期間外" in response.text
    db.expire_all()
    assert db.get(Redemption, body["id"]).state == "confirmed"
    assert used_count(db) == 1
    assert_ledger_ok(db)


def test_a_use_is_voided_only_once(testapp, shop, phone, db):
    """I-10: a second void of the same use (a double click) is refused; the coupons come back
    once and the ledger stays balanced."""
    body = use(testapp, phone, shop.qr_token, 2, 2000)
    staff = store_staff(testapp, db)
    token = csrf_from(staff.get("/store/").text)
    url = f"/store/redemptions/{body['id']}/void"
    staff.post(url, {"reason": "入力誤り", "csrf_token": token}, status=302)
    staff.post(url, {"reason": "入力誤り", "csrf_token": token}, status=409)
    assert used_count(db) == 0
    assert testapp.get(f"/api/v1/qr/{shop.qr_token}").json["usable_here"] == 2
    assert_ledger_ok(db)


def test_a_person_without_a_profile_cannot_use(testapp, shop):
    """I-1, I-5: the redemption call asks for the profile first, like acquisition."""
    token = login_resident(testapp, "U" + "1" * 32, profile=False)
    body = use(testapp, token, shop.qr_token, 1, 1000, status=403)
    assert body["error"] == "PROFILE_REQUIRED"


def test_no_use_before_the_first_round(testapp, shop, phone, db):
    """I-7: outside every usage period (before round 1 starts) the QR shows nothing usable and a
    use is refused with OUTSIDE_PERIOD."""
    testapp.put_json("/dev/clock", {"now": "2024-01-14T23:59:59+09:00", "frozen": True})
    assert testapp.get(f"/api/v1/qr/{shop.qr_token}").json["usable_here"] == 0
    body = use(testapp, phone, shop.qr_token, 1, 1000, status=422)
    assert body["error"] == "OUTSIDE_PERIOD"
    assert used_count(db) == 0


def test_store_portal_totals_per_round_and_settlement_period(testapp, shop, phone, db):
    """Issue 5 item 5: the store sees its totals per round and per settlement period."""
    use(testapp, phone, shop.qr_token, 2, 2000)
    staff = store_staff(testapp, db)
    portal = staff.get("/store/")
    assert '第1回</td><td class="num">1</td><td class="num">1,000円' in portal.text
    assert '2024年1月1日〜1月15日</td><td class="num">1</td><td class="num">1,000円' in portal.text


def _statements_of(engine, action) -> list[str]:
    seen: list[str] = []

    def listener(_conn, _cursor, statement, *_rest):
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", listener)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return [text for text in seen if "FROM clock_setting" not in text]  # the tests' clock


def test_a_use_is_nine_statements(testapp, shop, phone, db, registry):
    """Issue 16: a use at a till costs its store's instance CPU per statement (SQLAlchemy's
    building and the driver's round trip): the Idempotency-Key's claim, the store, the round,
    the person, the store limit (one upsert), the use's row, the coupons moved with their
    transition records (one statement), the ledger entry with its postings (one), the key's
    answer. A statement added to this path fails here, and says which."""
    statements = _statements_of(
        registry["db.engine"], lambda: use(testapp, phone, shop.qr_token, 2, 2000, key="count-me")
    )
    assert len(statements) == 9, "\n".join(statements)
    assert used_count(db) == 2
    assert_ledger_ok(db)


def test_a_use_and_its_void_record_every_coupons_move(testapp, shop, phone, db):
    """The coupons' transition records (I-5, the audit's trail), written in the same statement
    as the move: one per coupon, who, from and to, and which use; the coupon knows its use and
    when it was used, and the void takes both back."""
    body = use(testapp, phone, shop.qr_token, 2, 2000)
    db.expire_all()
    coupons = db.scalars(select(Coupon).where(Coupon.id.in_(body["coupons"]))).all()
    assert {(c.state, c.redemption_id) for c in coupons} == {("used", body["id"])}
    assert {c.used_at for c in coupons} == {ROUND1.replace(hour=10)}
    person = f"person:{coupons[0].person_id}"

    def moves(event):
        return db.execute(
            select(
                TransitionRecord.entity_id,
                TransitionRecord.from_state,
                TransitionRecord.to_state,
                TransitionRecord.actor,
                TransitionRecord.reason,
            )
            .where(TransitionRecord.machine == "coupon", TransitionRecord.event == event)
            .order_by(TransitionRecord.id)
        ).all()

    assert moves("use") == [
        (c, "issued", "used", person, f"redemption:{body['id']}") for c in sorted(body["coupons"])
    ]
    void(store_staff(testapp, db), body["id"], "二重に操作")
    db.expire_all()
    coupons = db.scalars(select(Coupon).where(Coupon.id.in_(body["coupons"]))).all()
    assert {(c.state, c.redemption_id, c.used_at) for c in coupons} == {("issued", None, None)}
    assert moves("void") == [
        (c, "used", "issued", "staff:shop1", "二重に操作") for c in sorted(body["coupons"])
    ]
    assert_ledger_ok(db)
