"""Payout adjustments (F-5): a disputed use or a correction is a separate, signed posting with a
reason, proposed by the secretariat and approved by someone else; it is paid (or deducted) in
the store's next batch and the ledger still balances (F-6: within T)."""

import io

import openpyxl
import pytest
from sqlalchemy import func, select

from kariya.audit import ledger_check
from kariya.clock import FixedClock
from kariya.errors import Conflict, Forbidden, Invalid
from kariya.ledger import postings
from kariya.models import Campaign, LedgerEntry, PayoutAdjustment, PayoutBatch, Redemption, Round
from kariya.payouts import adjustments, batches, reconciliation, zengin
from kariya.settings import Settings
from tests.functional.test_payouts import post, spent, staff_app  # noqa: F401  (fixture)
from tests.helpers import ROUND1

CLOCK = FixedClock(ROUND1.replace(day=16, hour=10))
MAX = Settings().adjustments.max_amount


def _check(db):
    db.expire_all()
    report = ledger_check.check(db, db.scalar(select(Campaign)))
    assert report.ok, report.text()
    return report


def _propose(secretariat, fields, status=302):
    return post(secretariat, "/secretariat/adjustments", "/secretariat/adjustments", fields, status)


def test_an_adjustment_is_proposed_approved_by_the_city_and_paid_in_the_next_batch(
    testapp,
    db,
    spent,  # noqa: F811
):
    paid, _held = spent
    code = db.scalar(select(Redemption.confirmation_code).where(Redemption.store_id == paid.id))
    secretariat = staff_app(testapp, db, "secretariat", "sec1")
    city = staff_app(testapp, db, "city", "city1")

    _propose(
        secretariat,
        {
            "store_code": "S0001",
            "amount": "５００",
            "reason": "読取不良で二重に取消された利用の補填",
            "confirmation_code": code,
        },
    )
    adjustment = db.scalar(select(PayoutAdjustment))
    assert (adjustment.amount, adjustment.state, adjustment.proposed_by) == (
        500,
        "proposed",
        "staff:sec1",
    )
    assert adjustment.redemption_id is not None
    # A proposal moves no money; the secretariat cannot approve it (city's permission).
    assert (
        db.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "adjust"))
        == 0
    )
    post(
        secretariat,
        "/secretariat/adjustments",
        f"/city/adjustments/{adjustment.id}/approve",
        status=403,
    )

    page = post(city, "/city/adjustments", f"/city/adjustments/{adjustment.id}/approve").follow()
    assert "第6回の未配布枠" in page.text  # no unallocated funds: the last round's quota pays
    db.expire_all()
    assert db.scalar(select(Round.quota).where(Round.number == 6)) == 10_000 - 500
    report = _check(db)
    assert report.figures["adjusted"] == 500

    post(secretariat, "/secretariat/payouts", "/secretariat/payouts/build")
    batch = db.scalar(select(PayoutBatch))
    line = next(line for line in batch.lines if line.store_id == paid.id)
    assert (line.count, line.amount, line.status) == (1, 1_500, "included")  # 1,000 of uses + 500
    post(secretariat, f"/secretariat/payouts/{batch.id}", f"/secretariat/payouts/{batch.id}/submit")
    post(city, f"/city/payouts/{batch.id}", f"/city/payouts/{batch.id}/approve")
    assert (
        postings.balance(db, postings.PAYABLE) == 1_500
        and postings.balance(db, postings.ADJUSTED) == 0
    )
    _check(db)
    post(secretariat, f"/secretariat/payouts/{batch.id}", f"/secretariat/payouts/{batch.id}/export")
    records = zengin.parse(
        secretariat.get(f"/secretariat/payouts/{batch.id}/zengin.txt").body
    ).records
    assert [r["amount"] for r in records] == [1_500]
    post(
        secretariat,
        f"/secretariat/payouts/{batch.id}",
        f"/secretariat/payouts/{batch.id}/results",
        {"csv": "S0001,1500,成功,,165"},
    )
    assert postings.balance(db, postings.PAID) == 1_500
    _check(db)
    totals = reconciliation.report(db, db.scalar(select(Campaign)))["total"]
    assert (
        totals["redeemed"] + totals["adjusted"]
        == totals["paid"] + totals["approved"] + totals["pending"]
    )
    assert (totals["adjusted"], totals["paid"]) == (500, 1_500)

    # The store's own statement shows the adjustment beside its uses.
    store_app = staff_app(testapp, db, "store", "seika", store_code="S0001")
    sheet = openpyxl.load_workbook(
        io.BytesIO(store_app.get(f"/store/statements/{batch.id}.xlsx").body)
    ).active
    cells = [c for row in sheet.iter_rows(values_only=True) for c in row if c is not None]
    assert "読取不良で二重に取消された利用の補填" in cells and 500 in cells


def test_nobody_approves_an_adjustment_they_proposed(db, spent):  # noqa: F811
    adjustment = adjustments.propose(
        db,
        CLOCK,
        store_code="S0001",
        amount="-500",
        reason="誤請求",
        actor="staff:alice",
        max_amount=MAX,
    )
    with pytest.raises(Forbidden, match="ダブルチェック"):
        adjustments.approve(db, CLOCK, adjustment, actor="staff:alice")
    with pytest.raises(Forbidden, match="ダブルチェック"):
        adjustments.reject(db, CLOCK, adjustment, actor="staff:alice", reason="x")
    adjustments.approve(db, CLOCK, adjustment, actor="staff:bob")
    db.commit()
    assert adjustment.state == "approved"
    with pytest.raises(Conflict):
        adjustments.approve(db, CLOCK, adjustment, actor="staff:carol")


def test_a_deduction_larger_than_what_is_owed_is_held_not_paid_negative(db, spent):  # noqa: F811
    paid, _held = spent
    adjustment = adjustments.propose(
        db,
        CLOCK,
        store_code="S0001",
        amount="-1,500",
        reason="不正利用と判明",
        actor="staff:a",
        max_amount=MAX,
    )
    adjustments.approve(db, CLOCK, adjustment, actor="staff:b")
    db.commit()
    assert postings.balance(db, postings.ADJUSTED) == -1_500
    _check(db)
    with pytest.raises(Conflict, match="支払う利用はありません"):
        batches.build(
            db, CLOCK, Settings(), actor="staff:a"
        )  # the store owes 500 net: nothing to pay
    db.rollback()
    _check(db)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"amount": "abc"}, "円単位の整数"),
        ({"amount": "0"}, "0円"),
        ({"amount": "2000000"}, "1,000,000円まで"),
        ({"store_code": "NOPE"}, "店舗はありません"),
        ({"reason": "  "}, "理由を入力"),
        ({"confirmation_code": "ZZZZZZ"}, "利用はありません"),
    ],
)
def test_bad_proposals_are_refused_and_nothing_is_written(testapp, db, spent, fields, message):  # noqa: F811
    secretariat = staff_app(testapp, db, "secretariat", "sec1")
    good = {"store_code": "S0001", "amount": "500", "reason": "訂正", "confirmation_code": ""}
    page = _propose(secretariat, {**good, **fields}, status=422)
    assert message in page.text and "何も変更していません" in page.text
    assert db.scalar(select(func.count()).select_from(PayoutAdjustment)) == 0


def test_the_cap_on_one_adjustment_is_the_operators_setting(db, spent):  # noqa: F811
    """The cap comes from kariya.adjustments.max_amount, not from the code."""
    propose = dict(store_code="S0001", reason="訂正", actor="staff:a")
    with pytest.raises(Invalid, match="50,000円まで"):
        adjustments.propose(db, CLOCK, amount="-60000", max_amount=50_000, **propose)
    adjustment = adjustments.propose(db, CLOCK, amount="60000", max_amount=100_000, **propose)
    assert adjustment.amount == 60_000


def test_an_adjustment_beyond_the_funds_is_refused(testapp, db, spent):  # noqa: F811
    """T is never exceeded: with every round's unissued quota smaller than the amount and the
    programme still running, there is nothing to pay it from."""
    adjustment = adjustments.propose(
        db,
        CLOCK,
        store_code="S0001",
        amount="20000",
        reason="過大な請求",
        actor="staff:a",
        max_amount=MAX,
    )
    db.commit()
    with pytest.raises(Conflict, match="資金"):
        adjustments.approve(db, CLOCK, adjustment, actor="staff:b")
    db.rollback()
    assert db.get(PayoutAdjustment, adjustment.id).state == "proposed"
    _check(db)


def test_agents_and_stores_cannot_see_or_decide_adjustments(testapp, db, spent):  # noqa: F811
    for role, kw in (("agent", {}), ("store", {"store_code": "S0001"})):
        app = staff_app(testapp, db, role, f"{role}1", **kw)
        app.get("/secretariat/adjustments", status=403)
        app.get("/city/adjustments", status=403)
