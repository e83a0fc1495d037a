"""Concurrency claims of I-2 / I-9, proven with threads over real HTTP against PostgreSQL:
one acquisition per person per round, and never past the quota, whatever the concurrency."""

import collections
import json

import pytest
from sqlalchemy import func, select

from kariya.audit import ledger_check
from kariya.clock import FixedClock
from kariya.coupons import ticker
from kariya.models import Acquisition, Coupon, Round
from tests.helpers import ROUND1, LiveServer, Phone, load_campaign, make_person, storm

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(app):
    srv = LiveServer().start(app)
    yield srv.base
    srv.stop()


class Client(Phone):
    """A resident's phone: its own cookie jar, logged in through the LINE simulator."""

    def acquire(self, key=None):
        headers = {"X-CSRF-Token": self.token}
        if key:
            headers["Idempotency-Key"] = key
        return self.call("POST", "/api/v1/acquisitions", headers=headers)


def open_round_1(db, set_now, planned):
    campaign = load_campaign(db, total=planned * 6, rounds=6, planned=[planned] * 6)
    now = set_now(ROUND1.replace(hour=9))
    ticker.run_due(db, FixedClock(now), actor="test")
    db.commit()
    return campaign


def summary(results):
    return collections.Counter(
        status if status == 201 else body["error"] for status, body in results
    )


def test_one_person_firing_ten_requests_gets_one_acquisition(server, db, set_now):
    open_round_1(db, set_now, planned=20_000)
    person = make_person(db, 1)
    phone = Client(server, person.line_user_id)
    results = storm([phone.acquire for _ in range(10)])
    assert summary(results) == {201: 1, "ALREADY_ACQUIRED": 9}
    assert all(body["message"] for status, body in results if status != 201)
    assert db.scalar(select(func.count()).select_from(Acquisition)) == 1
    assert db.scalar(select(func.count()).select_from(Coupon)) == 4


def test_same_idempotency_key_ten_times_at_once_all_get_the_same_answer(server, db, set_now):
    open_round_1(db, set_now, planned=20_000)
    person = make_person(db, 1)
    phone = Client(server, person.line_user_id)
    results = storm([lambda: phone.acquire(key="double-tap") for _ in range(10)])
    assert {status for status, _ in results} == {201}
    assert len({json.dumps(body, sort_keys=True) for _, body in results}) == 1
    assert db.scalar(select(func.count()).select_from(Coupon)) == 4


def test_the_last_pack_goes_to_exactly_one_racer(server, db, set_now):
    open_round_1(db, set_now, planned=4_000)  # two packs
    phones = [Client(server, make_person(db, n).line_user_id) for n in range(11)]
    assert phones[0].acquire()[0] == 201  # one pack left
    results = storm([phone.acquire for phone in phones[1:]])
    assert summary(results) == {201: 1, "SOLD_OUT": 9}
    db.expire_all()
    rnd = db.scalar(select(Round).where(Round.number == 1))
    assert (rnd.issued, rnd.quota, rnd.state) == (4_000, 4_000, "sold_out")
    assert db.scalar(select(func.count()).select_from(Acquisition)) == 2


def test_many_people_racing_for_a_small_quota_never_oversell(server, db, set_now):
    campaign = open_round_1(db, set_now, planned=30 * 2_000)
    phones = [Client(server, make_person(db, n).line_user_id) for n in range(80)]
    results = storm([phone.acquire for phone in phones] + [phone.acquire for phone in phones[:20]])
    counted = summary(results)
    assert counted[201] == 30
    assert counted[201] + counted["SOLD_OUT"] + counted["ALREADY_ACQUIRED"] == 100
    db.expire_all()
    assert db.scalar(select(Round.issued).where(Round.number == 1)) == 60_000
    duplicates = db.execute(
        select(Acquisition.person_id)
        .group_by(Acquisition.round_id, Acquisition.person_id)
        .having(func.count() > 1)
    ).all()
    assert duplicates == []
    report = ledger_check.check(db, campaign)
    assert report.ok, report.text()
