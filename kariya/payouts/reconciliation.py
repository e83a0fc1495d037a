"""Reconciliation (F-5): what stores are owed and were paid, per store, and the trace of every
use and adjustment to pending, payable or paid that the ledger check (kariya.audit) relies on."""

from __future__ import annotations

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from kariya.campaign.models import Campaign, Round
from kariya.ledger import postings
from kariya.payouts.batches import PAYABLE_BATCH_STATES
from kariya.payouts.models import PayoutAdjustment, PayoutBatch, PayoutItem, PayoutLine
from kariya.redemptions.models import Redemption
from workflows import payout as payout_wf
from workflows import redemption as redemption_wf


def report(db: Session, campaign: Campaign) -> dict:
    """F-5: per store and in total, redeemed + adjusted = paid + in approved batches + pending."""
    redeemed = dict(
        db.execute(
            select(Redemption.store_id, func.sum(Redemption.amount))
            .join(Round, Round.id == Redemption.round_id)
            .where(Round.campaign_id == campaign.id, Redemption.state == redemption_wf.S.confirmed)
            .group_by(Redemption.store_id)
        ).all()
    )
    by_status = db.execute(
        select(
            PayoutLine.store_id, PayoutLine.status, PayoutBatch.state, func.sum(PayoutLine.amount)
        )
        .join(PayoutBatch, PayoutBatch.id == PayoutLine.batch_id)
        .where(PayoutBatch.campaign_id == campaign.id)
        .group_by(PayoutLine.store_id, PayoutLine.status, PayoutBatch.state)
    ).all()
    adjusted = dict(
        db.execute(
            select(PayoutAdjustment.store_id, func.sum(PayoutAdjustment.amount))
            .where(
                PayoutAdjustment.campaign_id == campaign.id,
                PayoutAdjustment.state == payout_wf.A.approved,
            )
            .group_by(PayoutAdjustment.store_id)
        ).all()
    )
    paid: dict[int, int] = {}
    approved: dict[int, int] = {}
    for store_id, status, state, amount in by_status:
        if status == payout_wf.L.transferred:
            paid[store_id] = paid.get(store_id, 0) + int(amount)
        elif status == payout_wf.L.included and state in PAYABLE_BATCH_STATES:
            approved[store_id] = approved.get(store_id, 0) + int(amount)
    rows = []
    for store_id in sorted(set(redeemed) | set(adjusted) | set(paid) | set(approved)):
        r, j = int(redeemed.get(store_id, 0)), int(adjusted.get(store_id, 0))
        p, a = paid.get(store_id, 0), approved.get(store_id, 0)
        rows.append(
            {
                "store_id": store_id,
                "redeemed": r,
                "adjusted": j,
                "paid": p,
                "approved": a,
                "pending": r + j - p - a,
            }
        )
    keys = ("redeemed", "adjusted", "paid", "approved", "pending")
    total = {k: sum(row[k] for row in rows) for k in keys}
    return {"stores": rows, "total": total}


def ledger_problems(db: Session, campaign: Campaign, bal: dict[str, int]) -> list[str]:
    """Every yen traced use by use: a confirmed use is paid (its active item is on a transferred
    line), payable (on an included line of an approved or exported batch) or pending (anything
    else, so the next batch can take it); the ledger's paid, payable and used must equal those
    sums, and no active item may sit on a failed or held line or a voided use."""
    rows = db.execute(
        select(Redemption.amount, Redemption.state, PayoutLine.status, PayoutBatch.state)
        .join(Round, Round.id == Redemption.round_id)
        .outerjoin(PayoutItem, and_(PayoutItem.redemption_id == Redemption.id, PayoutItem.active))
        .outerjoin(PayoutLine, PayoutLine.id == PayoutItem.line_id)
        .outerjoin(PayoutBatch, PayoutBatch.id == PayoutLine.batch_id)
        .where(Round.campaign_id == campaign.id)
    ).all()
    traced = {"paid": 0, "payable": 0, "pending": 0, "adjusted": 0}
    problems: list[str] = []
    _trace(rows, "a use", redemption_wf.S.confirmed, "pending", traced, problems)
    adjustments = db.execute(
        select(
            PayoutAdjustment.amount, PayoutAdjustment.state, PayoutLine.status, PayoutBatch.state
        )
        .outerjoin(
            PayoutItem,
            and_(PayoutItem.adjustment_id == PayoutAdjustment.id, PayoutItem.active),
        )
        .outerjoin(PayoutLine, PayoutLine.id == PayoutItem.line_id)
        .outerjoin(PayoutBatch, PayoutBatch.id == PayoutLine.batch_id)
        .where(PayoutAdjustment.campaign_id == campaign.id)
    ).all()
    _trace(adjustments, "an adjustment", payout_wf.A.approved, "adjusted", traced, problems)
    for name, account in (
        ("paid", postings.PAID),
        ("payable", postings.PAYABLE),
        ("pending", postings.USED),
        ("adjusted", postings.ADJUSTED),
    ):
        if bal.get(account, 0) != traced[name]:
            problems.append(
                f"{name}: ledger {bal.get(account, 0):,} != uses and adjustments traced through payouts {traced[name]:,}"
            )
    return problems


def _trace(rows, what: str, payable_state: str, waiting: str, traced: dict, problems: list):
    """Add each (amount, state, line status, batch state) to paid, payable or `waiting`; an
    active item on a failed or held line, or of a row not in `payable_state`, is a problem."""
    for amount, state, line_status, batch_state in rows:
        if line_status in (payout_wf.L.failed, payout_wf.L.held) or (
            line_status and state != payable_state
        ):
            problems.append(
                f"{what} of {amount:,} is still in a {line_status} line ({state}): it would never be paid"
            )
        if state != payable_state:
            continue
        if line_status == payout_wf.L.transferred:
            traced["paid"] += amount
        elif line_status == payout_wf.L.included and batch_state in PAYABLE_BATCH_STATES:
            traced["payable"] += amount
        else:
            traced[waiting] += amount
