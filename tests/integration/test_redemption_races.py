"""Twenty simultaneous uses by one person (two phones, double taps) can never use a coupon twice
or pass the store limit (I-5, I-10), over real HTTP against PostgreSQL."""

import collections

import pytest
from sqlalchemy import func, select

from kariya.audit import ledger_check
from kariya.models import Campaign, Coupon, Redemption
from tests.helpers import make_person, make_store
from tests.integration.test_acquisition_races import Client, open_round_1, server, storm  # noqa: F401

pytestmark = pytest.mark.integration


def test_twenty_simultaneous_uses_hold_every_limit(server, db, set_now):  # noqa: F811
    open_round_1(db, set_now, planned=20_000)
    shop = make_store(db, "S0001", "かりや青果店")
    other = make_store(db, "S0002", "喫茶みなと")
    person = make_person(db, 1)
    phones = [Client(server, person.line_user_id) for _ in range(2)]
    assert phones[0].acquire()[0] == 201  # four coupons

    def use(phone, store, count):
        return lambda: phone.call(
            "POST",
            "/api/v1/redemptions",
            {"store_token": store.qr_token, "coupons": count, "bill_amount": 5000},
            {"X-CSRF-Token": phone.token},
        )

    calls = [use(phones[i % 2], shop, 1 + i % 2) for i in range(14)] + [
        use(phones[i % 2], other, 2) for i in range(6)
    ]
    results = storm(calls)
    outcome = collections.Counter(
        status if status == 201 else body["error"] for status, body in results
    )
    assert set(outcome) <= {201, "STORE_LIMIT", "NO_COUPONS"}, outcome

    db.expire_all()
    per_store = dict(
        db.execute(
            select(Redemption.store_id, func.sum(Redemption.coupons)).group_by(Redemption.store_id)
        ).all()
    )
    # Plenty of tries at both stores: each reaches its limit of 2, and all 4 coupons are used once.
    assert per_store == {shop.id: 2, other.id: 2}
    used = db.scalar(select(func.count()).select_from(Coupon).where(Coupon.state == "used"))
    assert used == 4
    # Every used coupon belongs to exactly one redemption, and no coupon twice.
    assert (
        db.scalar(
            select(func.count())
            .select_from(Coupon)
            .where(Coupon.state == "used", Coupon.redemption_id.is_(None))
        )
        == 0
    )
    assert outcome[201] == db.scalar(select(func.count()).select_from(Redemption))
    report = ledger_check.check(db, db.scalar(select(Campaign)))
    assert report.ok, report.text()


def test_same_key_double_tap_uses_once(server, db, set_now):  # noqa: F811
    open_round_1(db, set_now, planned=20_000)
    shop = make_store(db, "S0001", "かりや青果店")
    person = make_person(db, 1)
    phone = Client(server, person.line_user_id)
    phone.acquire()
    results = storm(
        [
            lambda: phone.call(
                "POST",
                "/api/v1/redemptions",
                {"store_token": shop.qr_token, "coupons": 1, "bill_amount": 1200},
                {"X-CSRF-Token": phone.token, "Idempotency-Key": "tap"},
            )
            for _ in range(10)
        ]
    )
    assert {status for status, _ in results} == {201}
    bodies = {body.get("confirmation_code") for status, body in results if status == 201}
    assert len(bodies) == 1
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Redemption)) == 1
    assert db.scalar(select(func.count()).select_from(Coupon).where(Coupon.state == "used")) == 1
