"""Holding a store's payments (issue 15): another domain (a fraud case under review) asks that a
store be paid nothing until it has decided. The payouts side of that, in one place:

- `place`: the hold is written, and the store's included lines of batches the bank has not yet
  received are held with the reason shown (line machine `hold`): in a draft or submitted batch
  their uses are released for a later batch; in an approved one the ledger moves the line's
  amount back from payable (to used, and to adjusted for its adjustments), as a failed
  transfer does. A held line is never written into the Zengin file. A batch already exported
  went to the bank: it cannot be stopped here, and the answer says so.
- `release`: the hold is lifted; the store's held lines of a draft batch are paid after all
  (batches.include_again), other held lines wait for the next batch like any held line.
- `await_adjustment`: the hold stays until an adjustment is decided (a confirmed case's
  deduction, approved by someone else): kariya.payouts.adjustments lifts it then.

Payouts import nothing of the domain asking: it names itself by `source` (`fraud_case:12`).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from kariya.ledger import postings
from kariya.payouts import batches
from kariya.payouts.models import PayoutBatch, PayoutHold, PayoutLine
from workflows import payout as payout_wf
from workflows.binding import fire, label

# Batches whose lines a hold still reaches (the bank has not received them).
REACHABLE = (payout_wf.S.draft, payout_wf.S.submitted, payout_wf.S.approved)


def active(db: Session, source: str) -> PayoutHold | None:
    return db.scalar(
        select(PayoutHold).where(PayoutHold.source == source, PayoutHold.released_at.is_(None))
    )


def of_store(db: Session, store_id: int) -> list[PayoutHold]:
    """The store's holds, the active ones first."""
    return list(
        db.scalars(
            select(PayoutHold)
            .where(PayoutHold.store_id == store_id)
            .order_by(PayoutHold.released_at.is_not(None), PayoutHold.id.desc())
        )
    )


def _lines(db: Session, store_id: int, states, status: str):
    return db.execute(
        select(PayoutLine, PayoutBatch)
        .join(PayoutBatch, PayoutBatch.id == PayoutLine.batch_id)
        .where(
            PayoutLine.store_id == store_id,
            PayoutLine.status == status,
            PayoutBatch.state.in_(states),
        )
        .order_by(PayoutBatch.id)
    ).all()


def place(db: Session, clock, *, store_id: int, source: str, reason: str, actor: str) -> list[str]:
    """Hold the store's payments for `source`; returns what happened, in Japanese, per batch."""
    now = clock.now()
    if active(db, source) is None:
        db.add(
            PayoutHold(
                store_id=store_id,
                source=source,
                reason=reason[:300],
                placed_by=actor,
                placed_at=now,
            )
        )
        db.flush()
    said = []
    for line, batch in _lines(db, store_id, REACHABLE, payout_wf.L.included):
        fire(db, payout_wf.LINE, line, "hold", actor=actor, now=now, reason=reason)
        line.reason = reason[:500]
        if batch.state == payout_wf.S.approved:
            uses, adjusted = batches.split_amounts(db, [line.id])
            postings.post(
                db,
                campaign_id=batch.campaign_id,
                kind="held",
                ref=f"held:line:{line.id}",
                moves=[
                    (postings.PAYABLE, postings.USED, uses),
                    (postings.PAYABLE, postings.ADJUSTED, adjusted),
                ],
                now=now,
                actor=actor,
                memo=reason,
            )
        batches.release_items(db, [line.id])
        said.append(
            f"支払バッチ No.{batch.id}({label(payout_wf.MACHINE, batch.state)})の"
            f"{line.amount:,}円を保留にしました。"
        )
    exported = (payout_wf.S.exported,)
    for line, batch in _lines(db, store_id, exported, payout_wf.L.included):
        said.append(
            f"支払バッチ No.{batch.id} は振込データを出力済みのため止められません"
            f"({line.amount:,}円)。銀行への取消は別途ご連絡ください。"
        )
    if not said:
        said.append("この店舗への支払を保留します(次に作る支払バッチから)。")
    db.flush()
    return said


def release(db: Session, clock, *, source: str, actor: str) -> list[str]:
    """Lift the hold of `source` (nothing if there is none); a draft's held lines of the store
    are paid after all when nothing else holds them."""
    hold = active(db, source)
    if hold is None:
        return []
    hold.released_by, hold.released_at = actor, clock.now()
    db.flush()
    said = []
    for line, batch in _lines(db, hold.store_id, REACHABLE, payout_wf.L.held):
        if batches.include_again(db, clock, line, actor=actor):
            said.append(f"支払バッチ No.{batch.id}(作成中)で{line.amount:,}円を支払います。")
        elif batch.state != payout_wf.S.draft:
            said.append(f"支払バッチ No.{batch.id} で保留した分は次回の支払バッチで支払います。")
        else:
            said.append(f"支払バッチ No.{batch.id} の明細は引き続き保留です: {line.reason}")
    if not said:
        said.append("保留を解除しました。次回の支払バッチから支払います。")
    return said


def await_adjustment(db: Session, *, source: str, adjustment_id: int, reason: str) -> None:
    """Keep the hold of `source` until the adjustment is approved or rejected."""
    hold = active(db, source)
    if hold is not None:
        hold.adjustment_id, hold.reason = adjustment_id, reason[:300]
        db.flush()


def release_awaiting(db: Session, clock, adjustment_id: int, *, actor: str) -> list[str]:
    """The adjustment is decided: lift the holds that waited for it."""
    said = []
    for source in db.scalars(
        select(PayoutHold.source).where(
            PayoutHold.adjustment_id == adjustment_id, PayoutHold.released_at.is_(None)
        )
    ).all():
        said += release(db, clock, source=source, actor=actor)
    return said
