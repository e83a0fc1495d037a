"""Property: whatever the sequence of acquisitions, uses at stores, voids, halts, ticks and payout
steps (build, submit, approve, reject, export, failed transfers) and adjustments (proposed,
approved or rejected by another person, positive or negative), the ledger holds:
T = used + adjusted + outstanding + unissued + returned, nothing is paid twice, paid + payable +
pending = used + adjusted, every entry sums to zero, no account but the
city's is negative, no round is oversold, and the ledger agrees with the coupons and rounds."""

import collections
import datetime as dt

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import func, select

from kariya.audit import ledger_check
from kariya.clock import FixedClock
from kariya.coupons import acquisition, rounds, ticker
from kariya.db import get_session_factory
from kariya.errors import DomainError
from kariya.ledger import postings
from kariya.models import (
    Campaign,
    PayoutAdjustment,
    PayoutBatch,
    PayoutItem,
    PayoutLine,
    Redemption,
    Round,
    Store,
)
from kariya.payouts import adjustments, batches, transfers
from kariya.redemptions import uses
from kariya.settings import Settings, settings_of
from tests.conftest import BASE_SETTINGS
from tests.helpers import ROUND1, load_campaign, make_person, make_store, truncate_all

MAX = Settings().adjustments.max_amount

# Daily settlement periods (the cadence is configuration), so batches have something to pay often.
SETTINGS = settings_of(
    {**BASE_SETTINGS, "kariya.settlement.cutoffs": ",".join(str(d) for d in range(1, 31))}
)
PEOPLE = 3  # a round's quota is 3 packs: everyone can acquire, uses are likely
REACHED: collections.Counter = collections.Counter()  # payout states the runs reached


class LedgerMachine(RuleBasedStateMachine):
    engine = None

    def __init__(self):
        super().__init__()
        truncate_all(self.engine)
        self.db = get_session_factory(self.engine)()
        self.campaign_id = load_campaign(self.db, total=36_000, rounds=6).id  # 3 packs a round
        self.people = [make_person(self.db, n).id for n in range(PEOPLE)]
        paid_store = make_store(self.db, "S0001", "かりや青果店")
        paid_store.bank_code, paid_store.branch_code, paid_store.account_type = (
            "0001",
            "004",
            "普通",
        )
        paid_store.account_number, paid_store.account_holder_kana = "0000001", "カリヤセイカテン"
        held_store = make_store(self.db, "S0002", "口座未登録の店")  # its lines are held
        self.db.commit()
        self.stores = [paid_store.id, held_store.id]
        self.now = ROUND1 + dt.timedelta(minutes=30)
        self.uses: list[int] = []
        self.serial = 0
        self.adjustments = 0
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

    def clock(self):
        return FixedClock(self.now)

    def _current(self):
        found = acquisition.current(self.db, self.now)
        return found[0] if found else None

    @property
    def campaign(self):
        return self.db.get(Campaign, self.campaign_id)

    @rule(person=st.integers(0, PEOPLE - 1))
    def acquire(self, person):
        self._attempt(
            lambda: acquisition.acquire(self.db, FixedClock(self.now), self.people[person])
        )

    @rule(
        person=st.integers(0, PEOPLE - 1),
        count=st.integers(1, 2),
        store=st.integers(0, 1),
        bill=st.sampled_from([999, 1000, 2000, 5000, 5000]),
    )
    def use(self, person, count, store, bill):
        # People acquire before they shop: try that first (refused if done or not open).
        self._attempt(lambda: acquisition.acquire(self.db, self.clock(), self.people[person]))
        token = self.db.get(Store, self.stores[store]).qr_token
        result = self._attempt(
            lambda: uses.redeem(self.db, self.clock(), self.people[person], token, count, bill)
        )
        if result:
            self.uses.append(result["id"])
            REACHED["used"] += 1

    @precondition(lambda self: self.uses)
    @rule(pick=st.integers(0, 1000))
    def void(self, pick):
        redemption = self.db.get(Redemption, self.uses[pick % len(self.uses)])
        self._attempt(
            lambda: uses.void(
                self.db,
                self.clock(),
                store_id=redemption.store_id,
                redemption_id=redemption.id,
                actor="staff:shop",
                reason="取消",
            )
        )

    @rule(minutes=st.integers(1, 15))
    def wait(self, minutes):
        self.now += dt.timedelta(minutes=minutes)

    # Paying the stores (F-1..F-5): any order of the batch steps, with failed transfers.
    @rule()
    def build_batch(self):
        """The secretariat builds the batch after a (daily) period ends."""
        self.now += dt.timedelta(days=1)
        self._tick()
        if self._attempt(
            lambda: batches.build(self.db, self.clock(), SETTINGS, actor="staff:secretariat")
        ):
            REACHED["built"] += 1

    @rule(
        approve=st.booleans(),
        failures=st.lists(st.booleans(), min_size=2, max_size=2),
        steps=st.integers(1, 4),
    )
    def next_batch_steps(self, approve, failures, steps):
        for _ in range(steps):
            self.next_batch_step(approve, failures)

    def next_batch_step(self, approve, failures):
        """The latest batch takes its next step: submit; approve or reject; redraft; export;
        the bank's results with random failed transfers."""
        batch = self.db.scalar(select(PayoutBatch).order_by(PayoutBatch.id.desc()).limit(1))
        if batch is None:
            return
        clock, secretariat, city = self.clock(), "staff:secretariat", "staff:city"
        if batch.state == "draft":
            action = lambda: batches.submit(self.db, clock, batch, actor=secretariat)  # noqa: E731
        elif batch.state == "submitted" and approve:
            action = lambda: batches.approve(self.db, clock, batch, actor=city)  # noqa: E731
        elif batch.state == "submitted":
            action = lambda: batches.reject(self.db, clock, batch, actor=city, reason="確認")  # noqa: E731
        elif batch.state == "rejected":
            action = lambda: batches.redraft(self.db, clock, batch, actor=secretariat)  # noqa: E731
        elif batch.state == "approved":
            action = lambda: transfers.export(  # noqa: E731
                self.db,
                clock,
                batch,
                SETTINGS,
                actor=secretariat,
                transfer_date=dt.date(2024, 3, 1),
            )
        elif batch.state == "exported":
            results = [
                transfers.ResultLine(
                    self.db.get(Store, line.store_id).code,
                    line.amount,
                    ok=not failures[i % 2],
                    reason="口座なし" if failures[i % 2] else "",
                )
                for i, line in enumerate(batch.lines)
                if line.status == "included"
            ]

            def action():
                transfers.record_results(self.db, clock, batch, results, actor=secretariat)
                return True
        else:
            return
        if self._attempt(action) is not None and batch.state == "transferred":
            REACHED["failed transfers"] += sum(not r.ok for r in results)
        REACHED[batch.state] += 1

    @precondition(lambda self: self.uses and self.adjustments < 3)
    @rule(
        store=st.integers(0, 1),
        amount=st.sampled_from([-500, 250, 500, 1000]),
        approve=st.sampled_from([True, True, False]),
    )
    def adjust(self, store, amount, approve):
        """A disputed use or a correction: proposed by the secretariat, decided by the city."""
        code = self.db.get(Store, self.stores[store]).code
        adjustment = self._attempt(
            lambda: adjustments.propose(
                self.db,
                self.clock(),
                store_code=code,
                amount=str(amount),
                reason="訂正",
                actor="staff:secretariat",
                max_amount=MAX,
            )
        )
        if adjustment is None:
            return
        self.adjustments += 1
        if approve:
            done = self._attempt(
                lambda: adjustments.approve(self.db, self.clock(), adjustment, actor="staff:city")
            )
            REACHED["adjustment approved" if done else "adjustment refused"] += 1
        else:
            self._attempt(
                lambda: adjustments.reject(
                    self.db, self.clock(), adjustment, actor="staff:city", reason="不要"
                )
            )
            REACHED[f"adjustment {adjustment.state}"] += 1

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
            # No redemption is ever in two active payout items (paid twice).
            twice = self.db.execute(
                select(PayoutItem.redemption_id)
                .where(PayoutItem.active, PayoutItem.redemption_id.is_not(None))
                .group_by(PayoutItem.redemption_id)
                .having(func.count() > 1)
            ).all()
            assert twice == []
            twice = self.db.execute(
                select(PayoutItem.adjustment_id)
                .where(PayoutItem.active, PayoutItem.adjustment_id.is_not(None))
                .group_by(PayoutItem.adjustment_id)
                .having(func.count() > 1)
            ).all()
            assert twice == []
            # Only approved adjustments are ever in a batch.
            assert (
                self.db.scalar(
                    select(func.count())
                    .select_from(PayoutItem)
                    .join(PayoutAdjustment)
                    .where(PayoutItem.active, PayoutAdjustment.state != "approved")
                )
                == 0
            )
            # Only confirmed uses are ever in a batch.
            assert (
                self.db.scalar(
                    select(func.count())
                    .select_from(PayoutItem)
                    .join(Redemption)
                    .where(PayoutItem.active, Redemption.state != "confirmed")
                )
                == 0
            )
            report = ledger_check.check(self.db, self.campaign)
            assert report.ok, report.text()
            self._owed_is_paid_payable_or_pending(report.figures)
            for rnd in self.campaign.rounds:
                assert rnd.issued <= rnd.quota
        finally:
            self.db.rollback()  # never leave a transaction holding locks

    def _owed_is_paid_payable_or_pending(self, figures):
        """F-5: paid + payable + pending (uses and adjustments) = used + adjusted."""
        pending = figures["pending"] + postings.balance(self.db, postings.ADJUSTED)
        owed = figures["used"] + figures["adjusted"]
        assert pending + figures["payable"] + figures["paid"] == owed
        if self.db.scalar(
            select(func.count())
            .select_from(PayoutItem)
            .join(PayoutLine, PayoutItem.line_id == PayoutLine.id)
            .join(PayoutBatch, PayoutLine.batch_id == PayoutBatch.id)
            .where(
                PayoutItem.adjustment_id.is_not(None),
                PayoutBatch.state.in_(("approved", "exported", "transferred", "reconciled")),
            )
        ):
            REACHED["adjustment in a batch"] += 1

    def teardown(self):
        # Run the programme to its end: everything settles and the rest goes back to the city.
        try:
            self.now = ROUND1 + dt.timedelta(weeks=7)
            self._tick()
            self.db.expire_all()
            campaign = self.campaign
            assert {r.state for r in campaign.rounds} == {"settled"}
            report = ledger_check.check(self.db, campaign)
            assert report.ok, report.text()
            figures = report.figures
            assert figures["outstanding"] == figures["unissued"] == 0
            assert figures["used"] + figures["adjusted"] + figures["returned"] == 36_000
            self._owed_is_paid_payable_or_pending(figures)
            assert self.db.scalar(select(Round.id).where(Round.issued > Round.quota)) is None
        finally:
            self.db.rollback()
            self.db.close()


def test_ledger_invariants_hold_for_any_sequence(engine):
    from hypothesis.stateful import run_state_machine_as_test

    LedgerMachine.engine = engine  # the suite's PostgreSQL
    REACHED.clear()
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=60,
            stateful_step_count=50,
            deadline=None,
            derandomize=True,  # the same sequences every run: CI is reproducible
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
    # The runs must really exercise the payout path, not pass vacuously.
    print(f"payout states reached: {dict(REACHED)}")
    assert (
        REACHED["approved"]
        and REACHED["exported"]
        and REACHED["rejected"]
        and REACHED["failed transfers"]
        and REACHED["adjustment approved"]
        and REACHED["adjustment rejected"]
        and REACHED["adjustment in a batch"]
    )
