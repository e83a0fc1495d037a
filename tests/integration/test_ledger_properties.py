"""Property: whatever the sequence of acquisitions, uses, voids, halts and ticks, the ledger
holds: T = used + outstanding + unissued + returned, every entry sums to zero, no account but the
city's is negative, no round is oversold, and the ledger agrees with the coupons and rounds."""

import datetime as dt

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import select

from kariya.clock import FixedClock
from kariya.db import get_session_factory
from kariya.errors import DomainError
from kariya.models import Campaign, Round
from kariya.services import coupons, issuance, ledger, rounds, ticker
from tests.helpers import ROUND1, load_campaign, make_person, truncate_all

PEOPLE = 6


class LedgerMachine(RuleBasedStateMachine):
    engine = None

    def __init__(self):
        super().__init__()
        truncate_all(self.engine)
        self.db = get_session_factory(self.engine)()
        self.campaign_id = load_campaign(self.db, total=36_000, rounds=6).id  # 3 packs a round
        self.people = [make_person(self.db, n).id for n in range(PEOPLE)]
        self.now = ROUND1 + dt.timedelta(minutes=30)
        self.uses: list[tuple[list[int], int]] = []
        self.serial = 0
        self._tick()

    def _attempt(self, action):
        try:
            result = action()
            self.db.commit()
            return result
        except DomainError:
            self.db.rollback()
            return None

    def _tick(self):
        ticker.run_due(self.db, FixedClock(self.now), actor="property")
        self.db.commit()

    def _current(self):
        found = issuance.current(self.db, self.now)
        return found[0] if found else None

    @property
    def campaign(self):
        return self.db.get(Campaign, self.campaign_id)

    @rule(person=st.integers(0, PEOPLE - 1))
    def acquire(self, person):
        self._attempt(lambda: issuance.acquire(self.db, FixedClock(self.now), self.people[person]))

    @rule(person=st.integers(0, PEOPLE - 1), count=st.integers(1, 2))
    def use(self, person, count):
        rnd = self._current()
        if rnd is None:
            return
        self.serial += 1
        ids = self._attempt(
            lambda: coupons.use(
                self.db,
                FixedClock(self.now),
                person_id=self.people[person],
                rnd=rnd,
                count=count,
                ref=f"use:{self.serial}",
                actor="p",
            )
        )
        if ids:
            self.uses.append((ids, rnd.id))

    @precondition(lambda self: self.uses)
    @rule(pick=st.integers(0, 1000))
    def void(self, pick):
        ids, round_id = self.uses.pop(pick % len(self.uses))
        self.serial += 1
        self._attempt(
            lambda: coupons.void(
                self.db,
                FixedClock(self.now),
                coupon_ids=ids,
                rnd=self.db.get(Round, round_id),
                ref=f"void:{self.serial}",
                actor="s",
                reason="取消",
            )
        )

    @rule(hours=st.integers(1, 80))
    def advance(self, hours):
        self.now += dt.timedelta(hours=hours)
        self._tick()

    @rule()
    def halt(self):
        self._attempt(
            lambda: rounds.halt(self.db, self.campaign, actor="city", now=self.now, reason="停止")
        )

    @rule()
    def resume(self):
        self._attempt(lambda: rounds.resume(self.db, self.campaign, actor="city", now=self.now))

    @invariant()
    def ledger_holds(self):
        self.db.expire_all()
        try:
            report = ledger.check(self.db, self.campaign)
            assert report.ok, report.text()
            for rnd in self.campaign.rounds:
                assert rnd.issued <= rnd.quota
        finally:
            self.db.rollback()  # never leave a transaction holding locks

    def teardown(self):
        # Run the programme to its end: everything settles and the rest goes back to the city.
        try:
            self.now = ROUND1 + dt.timedelta(weeks=7)
            self._tick()
            self.db.expire_all()
            campaign = self.campaign
            assert {r.state for r in campaign.rounds} == {"settled"}
            report = ledger.check(self.db, campaign)
            assert report.ok, report.text()
            figures = report.figures
            assert figures["outstanding"] == figures["unissued"] == 0
            assert figures["used"] + figures["returned"] == 36_000
            assert self.db.scalar(select(Round.id).where(Round.issued > Round.quota)) is None
        finally:
            self.db.rollback()
            self.db.close()


def test_ledger_invariants_hold_for_any_sequence(engine):
    from hypothesis.stateful import run_state_machine_as_test

    LedgerMachine.engine = engine  # the suite's PostgreSQL
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
