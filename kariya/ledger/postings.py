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

from sqlalchemy import BigInteger, Integer, Text, bindparam, func, insert, literal, select, true
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY
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
    if moves and db.get_bind().dialect.name == "postgresql":
        # The entry and its postings in one statement (one round trip on every use at a store).
        accounts, amounts = [], []
        for source, dest, amount in moves:
            accounts += (source, dest)
            amounts += (-amount, amount)
        posted = db.execute(
            _ENTRY_WITH_POSTINGS,
            {
                "campaign_id": campaign_id,
                "kind": kind,
                "ref": ref,
                "memo": memo[:300],
                "actor": actor,
                "at": now,
                "accounts": accounts,
                "amounts": amounts,
            },
        ).first()
        return posted is not None
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
    statements for all of them (the group commit of the rush, kariya.coupons.batch; PostgreSQL
    only). An entry whose `ref` exists posts nothing. Returns how many entries were posted.

    The rows go as one array a column (`unnest`), so the statements' text is the same for any
    number of entries: SQLAlchemy compiles each once, and the driver sends it without rewriting
    a long list of placeholders (issue 16: that was most of a batch's CPU)."""
    if not entries:
        return 0
    conn = db.connection()  # the session's transaction, past the ORM's layer
    posted = conn.execute(
        _ENTRIES,
        {
            "campaign_id": campaign_id,
            "kind": kind,
            "at": now,
            "refs": [ref for ref, _moves, _actor in entries],
            "actors": [actor for _ref, _moves, actor in entries],
        },
    ).all()
    ids = {ref: entry_id for entry_id, ref in posted}
    entry_ids, accounts, amounts = [], [], []
    for ref, moves, _actor in entries:
        if ref not in ids:
            continue
        for source, dest, amount in moves:
            if amount:
                entry_ids += (ids[ref], ids[ref])
                accounts += (source, dest)
                amounts += (-amount, amount)
    if entry_ids:
        conn.execute(_POSTINGS, {"entry_ids": entry_ids, "accounts": accounts, "amounts": amounts})
    return len(ids)


def _many_entries():
    table = LedgerEntry.__table__
    rows = (
        func.unnest(bindparam("refs", type_=ARRAY(Text)), bindparam("actors", type_=ARRAY(Text)))
        .table_valued("ref", "actor")
        .render_derived(name="entries")
    )
    source = select(
        bindparam("campaign_id", type_=Integer),
        bindparam("kind", type_=Text),
        rows.c.ref,
        literal(""),
        rows.c.actor,
        bindparam("at", type_=table.c.at.type),
    )
    return (
        postgresql.insert(table)
        .from_select(["campaign_id", "kind", "ref", "memo", "actor", "at"], source)
        .on_conflict_do_nothing(index_elements=["ref"])
        .returning(table.c.id, table.c.ref)
    )


def _many_postings():
    table = LedgerPosting.__table__
    rows = (
        func.unnest(
            bindparam("entry_ids", type_=ARRAY(BigInteger)),
            bindparam("accounts", type_=ARRAY(Text)),
            bindparam("amounts", type_=ARRAY(BigInteger)),
        )
        .table_valued("entry_id", "account", "amount")
        .render_derived(name="postings")
    )
    return insert(table).from_select(
        ["entry_id", "account", "amount"], select(rows.c.entry_id, rows.c.account, rows.c.amount)
    )


def _entry_with_postings():
    """PostgreSQL: `WITH entry AS (INSERT INTO ledger_entry ... ON CONFLICT (ref) DO NOTHING
    RETURNING id) INSERT INTO ledger_posting SELECT entry.id, account, amount FROM entry,
    unnest(accounts, amounts)`: no row comes back when `ref` was already posted."""
    entries, table = LedgerEntry.__table__, LedgerPosting.__table__
    entry = (
        postgresql.insert(entries)
        .values(
            {
                name: bindparam(name, type_=entries.c[name].type)
                for name in ("campaign_id", "kind", "ref", "memo", "actor", "at")
            }
        )
        .on_conflict_do_nothing(index_elements=["ref"])
        .returning(entries.c.id)
        .cte("entry")
    )
    rows = (
        func.unnest(
            bindparam("accounts", type_=ARRAY(Text)), bindparam("amounts", type_=ARRAY(BigInteger))
        )
        .table_valued("account", "amount")
        .render_derived(name="moves")
    )
    return (
        insert(table)
        .from_select(
            ["entry_id", "account", "amount"],
            select(entry.c.id, rows.c.account, rows.c.amount).select_from(entry).join(rows, true()),
        )
        .returning(table.c.entry_id)
    )


_ENTRIES, _POSTINGS = _many_entries(), _many_postings()
_ENTRY_WITH_POSTINGS = _entry_with_postings()
