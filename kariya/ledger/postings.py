"""Double-entry ledger of the coupon funds (DESIGN.md section 2, F-6).

Every movement is one entry whose postings sum to zero; `ref` is unique, so a replayed request or
task posts nothing. Balances are sums of postings. Accounts:

    city:funds              the city's advance (the only account that may go negative)
    campaign:{c}:unallocated  funds not planned for any round
    round:{r}:quota         unissued quota of round r       (Q_r minus what was issued)
    round:{r}:outstanding   value of round r's coupons still issued (unused, unexpired)
    round:{r}:rollover      what round r hands on at settlement (unused + unissued)
    used                    value of used coupons not yet in an approved payout batch
    adjusted                approved adjustments not yet in an approved batch (may be negative:
                            a deduction waiting for the store's next batch; kariya.payouts.adjustments)
    payable                 used value in approved batches, not yet transferred
    paid                    transferred to stores (F-5: redeemed + adjusted = paid + payable + pending)
    city:returned           remainder returned to the city after the last round
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from kariya.ledger.models import LedgerEntry, LedgerPosting
from kariya.orm import insert_or_skip

FUNDS = "city:funds"
RETURNED = "city:returned"
USED = "used"
ADJUSTED = "adjusted"
PAYABLE = "payable"
PAID = "paid"


def unallocated(campaign_id: int) -> str:
    return f"campaign:{campaign_id}:unallocated"


def quota(round_id: int) -> str:
    return f"round:{round_id}:quota"


def outstanding(round_id: int) -> str:
    return f"round:{round_id}:outstanding"


def rollover(round_id: int) -> str:
    return f"round:{round_id}:rollover"


def post(
    db: Session,
    *,
    campaign_id: int,
    kind: str,
    ref: str,
    moves: list[tuple[str, str, int]],
    now: dt.datetime,
    actor: str = "",
    memo: str = "",
) -> bool:
    """Post `moves` (from_account, to_account, amount) as one entry. False if `ref` exists."""
    moves = [m for m in moves if m[2] != 0]
    # Core inserts on the tables: postings are never loaded as objects where they are written,
    # and the ORM's bulk machinery costs more than the statements on the acquisition hot path.
    entries, postings = LedgerEntry.__table__, LedgerPosting.__table__
    entry_id = db.scalar(
        insert_or_skip(db, entries, on=["ref"])
        .values(campaign_id=campaign_id, kind=kind, ref=ref, memo=memo[:300], actor=actor, at=now)
        .returning(entries.c.id)
    )
    if entry_id is None:
        return False
    rows = []
    for source, dest, amount in moves:
        rows.append({"entry_id": entry_id, "account": source, "amount": -amount})
        rows.append({"entry_id": entry_id, "account": dest, "amount": amount})
    if rows:
        db.execute(insert(postings).values(rows))  # one statement, not one per row
    return True


def balances(db: Session, campaign_id: int | None = None) -> dict[str, int]:
    query = select(LedgerPosting.account, func.sum(LedgerPosting.amount)).group_by(
        LedgerPosting.account
    )
    if campaign_id is not None:
        query = query.join(LedgerEntry).where(LedgerEntry.campaign_id == campaign_id)
    return {account: int(total) for account, total in db.execute(query)}


def balance(db: Session, account: str) -> int:
    return int(
        db.scalar(
            select(func.coalesce(func.sum(LedgerPosting.amount), 0)).where(
                LedgerPosting.account == account
            )
        )
    )


def post_many(
    db: Session,
    *,
    campaign_id: int,
    kind: str,
    entries: list[tuple[str, list[tuple[str, str, int]], str]],
    now: dt.datetime,
) -> int:
    """Post many entries of one kind at once, each (ref, moves, actor) as `post` would: two
    statements for all of them (the group commit of the rush, kariya.coupons.batch). An entry
    whose `ref` exists posts nothing. Returns how many entries were posted."""
    if not entries:
        return 0
    table, postings = LedgerEntry.__table__, LedgerPosting.__table__
    posted = db.execute(
        insert_or_skip(db, table, on=["ref"]).returning(table.c.id, table.c.ref),
        [
            {
                "campaign_id": campaign_id,
                "kind": kind,
                "ref": ref,
                "memo": "",
                "actor": actor,
                "at": now,
            }
            for ref, _moves, actor in entries
        ],
    ).all()
    ids = {ref: entry_id for entry_id, ref in posted}
    rows = []
    for ref, moves, _actor in entries:
        if ref not in ids:
            continue
        for source, dest, amount in moves:
            if amount:
                rows.append({"entry_id": ids[ref], "account": source, "amount": -amount})
                rows.append({"entry_id": ids[ref], "account": dest, "amount": amount})
    if rows:
        db.execute(insert(postings).values(rows))  # one statement, not one per row
    return len(ids)
