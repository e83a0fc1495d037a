"""The budget rule with worked numbers across six rounds (DESIGN.md section 2; I-3, I-4, F-6).

T = 60,000 yen, six rounds, A_k = 10,000 (five packs of 2,000). Q_k = A_k + R_{k-1}, where
R = unused coupon value at the round's end + its unissued quota; after round 6 the rest returns.

  round 1: Q 10,000; 3 acquire (6,000); A uses 2, B uses 4 (1 + 1 + 2) and the store voids
           one of B's single uses, C uses none:
           used 2,500, unused 3,500, unissued 4,000 -> R1 = 7,500
  round 2: Q 17,500; 8 acquire (16,000) -> sold out (1,500 left < a pack); the 9th is refused;
           all 8 use all coupons: used 16,000 -> R2 = 0 + 1,500 = 1,500
  round 3: Q 11,500; 2 acquire (4,000), then the city halts; acquisition refused;
           nobody uses -> R3 = 4,000 + 7,500 = 11,500
  round 4: opens halted (Q 21,500); the city resumes; 1 acquires and uses 2:
           used 1,000 -> R4 = 1,000 + 19,500 = 20,500
  round 5: Q 30,500; nobody comes -> R5 = 30,500
  round 6: Q 40,500; 1 acquires and uses 4: used 2,000 -> R6 = 38,500, returned to the city.
  T 60,000 = used (2,500 + 16,000 + 1,000 + 2,000 = 21,500) + returned 38,500.
"""

import datetime as dt

import pytest
from sqlalchemy import func, select

from kariya.audit import ledger_check
from kariya.clock import FixedClock
from kariya.coupons import acquisition, rounds, ticker
from kariya.ledger import postings
from kariya.models import Acquisition, Campaign, Coupon, Redemption, Round
from kariya.redemptions import uses
from tests.helpers import ROUND1, load_campaign, make_person, make_store


class World:
    def __init__(self, db):
        self.db = db
        self.campaign = load_campaign(db, total=60_000, rounds=6)
        self.people = [make_person(db, n) for n in range(12)]
        self.stores = [
            make_store(db, "S0001", "かりや青果店"),
            make_store(db, "S0002", "喫茶みなと"),
        ]

    def at(self, week: int, hours: float = 1) -> FixedClock:
        return FixedClock(ROUND1 + dt.timedelta(weeks=week - 1, hours=hours))

    def tick(self, clock):
        done = ticker.run_due(self.db, clock, actor="test")
        self.db.commit()
        return done

    def round(self, number: int) -> Round:
        self.db.expire_all()
        return self.db.scalar(select(Round).where(Round.number == number))

    def acquire(self, clock, person):
        try:
            result = acquisition.acquire(self.db, clock, person.id)
            self.db.commit()
            return result
        except Exception:
            self.db.rollback()
            raise

    def use(self, clock, person, count, store=0):
        """A real use at a store's QR (at most 2 per store and round: 4 means 2 + 2)."""
        if count > 2:
            return self.use(clock, person, 2, store) + self.use(clock, person, count - 2, store + 1)
        result = uses.redeem(
            self.db, clock, person.id, self.stores[store].qr_token, count, 1000 * count
        )
        self.db.commit()
        return [result]

    def void(self, clock, redemption):
        store_id = self.db.get(Redemption, redemption["id"]).store_id
        uses.void(
            self.db,
            clock,
            store_id=store_id,
            redemption_id=redemption["id"],
            actor="staff:shop",
            reason="誤操作",
        )
        self.db.commit()

    def check(self):
        self.db.expire_all()
        report = ledger_check.check(self.db, self.db.get(Campaign, self.campaign.id))
        assert report.ok, report.text()
        return report.figures


def test_six_rounds_with_sold_out_halt_rollover_and_return(db):
    w = World(db)
    p = w.people

    # Round 1
    c = w.at(1)
    assert w.tick(c)["opened"] == ["テストキャンペーン 第1回"]
    for person in p[:3]:
        w.acquire(c, person)
    w.use(c, p[0], 2)
    first_visit = w.use(c, p[1], 1)[0]
    w.use(c, p[1], 1)
    w.use(c, p[1], 2, store=1)
    w.void(c, first_visit)
    assert (w.round(1).quota, w.round(1).issued) == (10_000, 6_000)
    assert w.check()["used"] == 2_500

    # Round 2: R1 = 3,500 unused + 4,000 unissued
    c = w.at(2)
    done = w.tick(c)
    assert done == {
        "opened": ["テストキャンペーン 第2回"],
        "closed": ["テストキャンペーン 第1回"],
        "settled": ["テストキャンペーン 第1回"],
    }
    r2 = w.round(2)
    assert (r2.planned, r2.rollover_in, r2.quota) == (10_000, 7_500, 17_500)
    assert (
        db.scalar(
            select(func.count())
            .select_from(Coupon)
            .where(Coupon.round_id == w.round(1).id, Coupon.state == "expired")
        )
        == 7
    )
    for person in p[:8]:
        w.acquire(c, person)
    assert w.round(2).state == "sold_out" and w.round(2).issued == 16_000
    with pytest.raises(acquisition.SoldOut):
        w.acquire(c, p[8])
    for person in p[:8]:
        w.use(c, person, 4)
    assert w.check()["outstanding"] == 0

    # Round 3: R2 = 0 unused + 1,500 unissued
    c = w.at(3)
    w.tick(c)
    assert (w.round(3).rollover_in, w.round(3).quota) == (1_500, 11_500)
    w.acquire(c, p[0])
    w.acquire(c, p[1])
    rounds.halt(
        db, db.get(Campaign, w.campaign.id), actor="staff:city", now=c.now(), reason="予算の確認"
    )
    db.commit()
    assert w.round(3).state == "halted"
    with pytest.raises(acquisition.NotOpen, match="停止"):
        w.acquire(c, p[2])
    # Coupons issued before the halt stay usable until the round ends.
    w.void(c, w.use(c, p[0], 1)[0])
    w.check()

    # Round 4: opens halted; R3 = 4,000 unused + 7,500 unissued
    c = w.at(4)
    w.tick(c)
    assert (w.round(4).state, w.round(4).rollover_in, w.round(4).quota) == (
        "halted",
        11_500,
        21_500,
    )
    rounds.resume(
        db, db.get(Campaign, w.campaign.id), actor="staff:city", now=c.now(), reason="再開"
    )
    db.commit()
    assert w.round(4).state == "open"
    w.acquire(c, p[5])
    w.use(c, p[5], 2)

    # Round 5: R4 = 1,000 + 19,500
    c = w.at(5)
    w.tick(c)
    assert (w.round(5).rollover_in, w.round(5).quota) == (20_500, 30_500)

    # Round 6: R5 = 30,500
    c = w.at(6)
    w.tick(c)
    assert (w.round(6).rollover_in, w.round(6).quota) == (30_500, 40_500)
    w.acquire(c, p[7])
    w.use(c, p[7], 4)

    # After the programme: everything settled, R6 returned to the city.
    c = w.at(7, hours=0.5)
    w.tick(c)
    assert [r.state for r in db.get(Campaign, w.campaign.id).rounds] == ["settled"] * 6
    figures = w.check()
    assert figures == {
        "T": 60_000,
        "funded": 60_000,
        "used": 21_500,
        "adjusted": 0,
        "pending": 21_500,
        "payable": 0,
        "paid": 0,
        "outstanding": 0,
        "unissued": 0,
        "returned": 38_500,
    }
    assert postings.balance(db, postings.RETURNED) == 38_500


def test_tick_catches_up_missed_rounds_and_is_idempotent(db):
    w = World(db)
    w.tick(w.at(1))
    w.acquire(w.at(1), w.people[0])
    # The worker was down for two weeks: one tick closes 1 and 2, settles both, opens 3.
    c = w.at(3, hours=5)
    done = w.tick(c)
    assert done["closed"] == ["テストキャンペーン 第1回", "テストキャンペーン 第2回"]
    assert done["opened"] == ["テストキャンペーン 第2回", "テストキャンペーン 第3回"]
    assert (w.round(2).rollover_in, w.round(2).quota) == (
        10_000,
        20_000,
    )  # 2,000 unused + 8,000 unissued
    assert (w.round(3).rollover_in, w.round(3).quota) == (20_000, 30_000)  # nobody came in round 2
    assert w.tick(c) == {"opened": [], "closed": [], "settled": []}
    w.check()


def test_two_ticks_at_once_change_nothing_the_second_time(db, session_factory):
    import threading

    w = World(db)
    w.tick(w.at(1))
    for person in w.people[:3]:
        w.acquire(w.at(1), person)
    clock = w.at(2)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        session = session_factory()
        try:
            barrier.wait()
            results.append(ticker.run_due(session, clock, actor="race"))
            session.commit()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
            session.rollback()
        finally:
            session.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert sorted(len(r["closed"]) for r in results) == [0, 1]
    assert (w.round(2).rollover_in, w.round(2).quota) == (
        6_000 + 4_000,
        20_000,
    )  # unused + unissued, once
    w.check()


def test_unplanned_funds_and_whole_packs(db):
    """Planned amounts may leave part of T unallocated; it is returned after the last round."""
    campaign = load_campaign(db, total=25_000, rounds=2, planned=[10_000, 8_000])
    clock = FixedClock(ROUND1 + dt.timedelta(weeks=2, hours=1))
    ticker.run_due(db, clock, actor="test")
    db.commit()
    report = ledger_check.check(db, db.get(Campaign, campaign.id))
    assert report.ok, report.text()
    assert report.figures["returned"] == 25_000


def test_default_planned_is_t_over_rounds_in_whole_packs(db):
    campaign = load_campaign(db, total=61_000, rounds=6)
    assert [r.planned for r in campaign.rounds] == [10_000] * 6  # 61,000 / 6 = 10,166 -> 10,000
    assert postings.balance(db, postings.unallocated(campaign.id)) == 1_000


def test_acquisition_refused_before_and_after_the_programme(db):
    w = World(db)
    with pytest.raises(acquisition.NotOpen):
        w.acquire(FixedClock(ROUND1 - dt.timedelta(seconds=1)), w.people[0])
    # Round 1's period has begun but the tick has not opened it yet.
    with pytest.raises(acquisition.NotOpen, match="まもなく"):
        w.acquire(w.at(1), w.people[0])
    w.tick(w.at(7))
    with pytest.raises(acquisition.NotOpen):
        w.acquire(w.at(7), w.people[0])
    assert db.scalar(select(func.count()).select_from(Acquisition)) == 0
