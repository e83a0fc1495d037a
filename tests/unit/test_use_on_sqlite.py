"""The demo's database (SQLite, `make run`) takes a use at a store as PostgreSQL does (I-5,
I-6): PostgreSQL writes the coupons' move with its transition records, and the ledger entry
with its postings, each as one statement (issue 16); SQLite, which has no data-modifying
`WITH`, writes each as two. The same rows either way, and the same refusals."""

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from kariya.audit import ledger_check
from kariya.clock import FixedClock
from kariya.coupons import acquisition, ticker
from kariya.migrations import upgrade
from kariya.models import Campaign, Coupon, Redemption, StoreUse, TransitionRecord
from kariya.redemptions import uses
from tests.helpers import ROUND1, load_campaign, make_person, make_store


@pytest.fixture
def demo(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'demo.sqlite'}")
    upgrade(engine)
    with Session(engine) as db:
        load_campaign(db, total=60_000, rounds=6)
        store = make_store(db, "S0001", "かりや青果店")
        person = make_person(db)
        ticker.run_due(db, FixedClock(ROUND1.replace(hour=9)), actor="test")  # round 1 opens
        acquisition.acquire(db, FixedClock(ROUND1.replace(hour=9)), person.id)
        db.commit()
        yield db, store, person
    engine.dispose()


def test_a_use_and_its_void_on_sqlite(demo):
    db, store, person = demo
    now = ROUND1.replace(hour=10)
    clock = FixedClock(now)
    body = uses.redeem(db, clock, person.id, store.qr_token, 2, "2,000円")
    db.commit()
    coupons = db.scalars(select_coupons(body["coupons"])).all()
    assert {(c.state, c.redemption_id, c.used_at) for c in coupons} == {("used", body["id"], now)}
    records = db.execute(
        sa.select(TransitionRecord.entity_id, TransitionRecord.event, TransitionRecord.actor)
        .where(TransitionRecord.machine == "coupon", TransitionRecord.event == "use")
        .order_by(TransitionRecord.entity_id)
    ).all()
    assert records == [(c, "use", f"person:{person.id}") for c in sorted(body["coupons"])]
    assert db.scalar(sa.select(StoreUse.used)) == 2
    with pytest.raises(uses.StoreLimit):  # a third coupon at the same store in the same round
        uses.redeem(db, clock, person.id, store.qr_token, 1, 1000)
    db.rollback()
    assert db.scalar(sa.select(StoreUse.used)) == 2  # the refusal changed nothing

    uses.void(
        db,
        FixedClock(now + dt.timedelta(minutes=5)),
        store_id=store.id,
        redemption_id=body["id"],
        actor="staff:shop1",
        reason="金額の入力誤り",
    )
    db.commit()
    db.expire_all()
    coupons = db.scalars(select_coupons(body["coupons"])).all()
    assert {(c.state, c.redemption_id, c.used_at) for c in coupons} == {("issued", None, None)}
    assert db.get(Redemption, body["id"]).state == "voided"
    assert db.scalar(sa.select(StoreUse.used)) == 0
    report = ledger_check.check(db, db.scalar(sa.select(Campaign)))
    assert report.ok, report.text()


def select_coupons(ids):
    return sa.select(Coupon).where(Coupon.id.in_(ids))
