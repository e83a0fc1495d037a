"""Many acquisitions in one transaction: the group commit of the weekly rush (I-9, issue 16).

`acquire_many` takes the asks a process collected within a few milliseconds
(kariya.coupons.group_commit) and writes them as one transaction, with the same rules and the
same guarantees as the single path (kariya.coupons.acquisition), in about eight statements
whatever the number of asks:

  1. the current round's facts for the batch's time, with its committed remaining quota;
  2. the claim: INSERT the acquisitions ... SELECT FROM person WHERE id = ANY (the asks) AND the
     person has a profile, is not blocked nor withdrawn, agreed to the published terms and never
     withdrew before ... ORDER BY id FOR KEY SHARE ... ON CONFLICT (round, person) DO NOTHING:
     the single path's claim for k people at once (the unique constraint is the guarantee);
  3. their coupons, in one INSERT ... SELECT FROM unnest(the packs); 4. their ledger entries
     and postings, in two more of the same kind;
  5. the quota, last, as one UPDATE for all k packs that also leaves a reserve untouched;
  6. the Idempotency-Key records of the asks that carried one, with their answers.

Each statement's text is the same whatever k (the rows go as one array a column): SQLAlchemy
compiles it once a process and the driver sends it as it is. Rows as multi-row VALUES made a
new text for every k, and rewriting its placeholders was most of a batch's CPU (issue 16:
10.2-10.5 ms of CPU for a batch of 30 acquisitions before, 2.3-2.4 ms after, `make bench-batch`).

An ask the claim did not take (a second tap, no profile, terms not agreed, a returning LINE
account, a moved or withdrawn record) is left to the single path, which says why or, for a
returning account, makes its own claim. The batch never sells a round out: near the end it
takes only the asks that leave `reserve` packs (the others are the single path's), and the quota
UPDATE requires that those packs stay after it, so the last packs go one by one through the
single path, which takes the round to sold_out through its machine. When the UPDATE finds less
than that (another process took packs meanwhile, or the round halted) the batch raises
`Fallback`: the caller
rolls the whole transaction back and every ask goes the single path. The batch is only ever an
optimisation of the single path: all or nothing, and nothing of it decides a refusal.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

from sqlalchemy import (
    BigInteger,
    Integer,
    any_,
    bindparam,
    func,
    insert,
    literal,
    select,
    true,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from kariya.campaign.models import Campaign, Round
from kariya.clock import to_jst
from kariya.coupons import acquisition
from kariya.coupons.models import Acquisition, Coupon
from kariya.ledger import postings
from kariya.orm import UTCDateTime, insert_or_skip
from kariya.residents.models import IdempotencyRecord, Person
from workflows import coupon as coupon_wf
from workflows import round as round_wf


class Fallback(Exception):
    """The batch cannot be written as a whole (near the end of the quota, the round not open,
    an Idempotency-Key taken meanwhile): roll it back and take every ask the single path."""


@dataclasses.dataclass
class Ask:
    """One resident's acquisition, as the request saw it: who, when, and the Idempotency-Key
    with the hash of the request (None without a key)."""

    person_id: int
    now: dt.datetime
    key: str | None = None
    digest: str | None = None


def _current_facts():
    """The current round's facts (`now`), with its committed remaining quota."""
    return acquisition.of_current_round(
        bindparam("now", type_=UTCDateTime),
        Round.id,
        Round.number,
        Round.state,
        Round.starts,
        Round.ends,
        Round.issued,
        Round.quota,
        Round.campaign_id,
        Campaign.coupon_face,
        Campaign.coupons_per_pack,
    )


def _plain_claim():
    """The single path's plain claim (kariya.coupons.acquisition) for many people
    (`person_ids`), returning (person id, acquisition id) of those claimed."""
    acquisitions = Acquisition.__table__
    source = (
        select(
            bindparam("round_id", type_=Integer),
            Person.id,
            bindparam("amount", type_=Integer),
            bindparam("now", type_=UTCDateTime),
        )
        .where(
            Person.id == any_(bindparam("person_ids", type_=ARRAY(BigInteger))),
            *acquisition.MAY_ACQUIRE,
            Person.returned_from_id.is_(None),
        )
        .order_by(Person.id)  # the same lock order in every batch
        .with_for_update(read=True, key_share=True)
    )
    return (
        postgresql.insert(acquisitions)
        .from_select(["round_id", "person_id", "amount", "created_at"], source)
        .on_conflict_do_nothing(index_elements=["round_id", "person_id"])
        .returning(acquisitions.c.person_id, acquisitions.c.id)
    )


def _many_coupons():
    """The packs' coupons in one statement whatever their number: `per_pack` coupons of the
    round for each (acquisition, person) of the two arrays (one array a column: the text never
    changes, so it is compiled once and sent as it is; issue 16), in their order."""
    coupons = Coupon.__table__
    packs = (
        func.unnest(
            bindparam("acquisition_ids", type_=ARRAY(BigInteger)),
            bindparam("person_ids", type_=ARRAY(BigInteger)),
        )
        .table_valued("acquisition_id", "person_id", with_ordinality="pack")
        .render_derived(name="packs")
    )
    copies = (
        func.generate_series(1, bindparam("per_pack", type_=Integer))
        .table_valued("n")
        .render_derived(name="copies")
    )
    source = (
        select(
            packs.c.acquisition_id,
            packs.c.person_id,
            bindparam("round_id", type_=Integer),
            bindparam("face", type_=Integer),
            literal(coupon_wf.S.issued),
        )
        .select_from(packs.join(copies, true()))
        .order_by(packs.c.pack, copies.c.n)
    )
    return (
        insert(coupons)
        .from_select(["acquisition_id", "person_id", "round_id", "face", "state"], source)
        .returning(coupons.c.acquisition_id, coupons.c.id)
    )


# Built once: the same statements, and texts, for every batch (see above).
_FACTS, _CLAIM, _COUPONS = _current_facts(), _plain_claim(), _many_coupons()


def acquire_many(db: Session, asks: list[Ask], *, reserve: int) -> dict[int, dict]:
    """Acquire for the asks (one per person) in the session's transaction, which the caller
    commits; {person id: the 201 answer} for those acquired. Raises Fallback (the caller rolls
    back) when the batch cannot be written whole; `reserve` packs must remain after it."""
    now = max(ask.now for ask in asks)
    conn = db.connection()  # Core statements on the session's transaction, past the ORM's layer
    rnd = conn.execute(_FACTS, {"now": now}).first()
    if rnd is None or rnd.state != round_wf.S.open:
        raise Fallback("no open round")
    pack = rnd.coupon_face * rnd.coupons_per_pack
    # Asks made before the round began are the single path's (NOT_OPEN at their time).
    asks = [ask for ask in asks if ask.now >= rnd.starts]
    # Near the end, the first asks that fit (in their order of arrival) and `reserve` packs
    # left; the rest are the single path's. Sending the whole batch there instead had the
    # last ~100 packs taken one by one, in turn on the round's row (issue 16).
    room = (rnd.quota - rnd.issued) // pack - reserve
    if not asks or room <= 0:
        raise Fallback("near the end of the quota")
    asks = asks[:room]

    claimed = dict(
        conn.execute(
            _CLAIM,
            {
                "round_id": rnd.id,
                "amount": pack,
                "now": now,
                "person_ids": [ask.person_id for ask in asks],
            },
        ).all()
    )
    if not claimed:
        return {}
    coupon_rows = conn.execute(
        _COUPONS,
        {
            "acquisition_ids": list(claimed.values()),
            "person_ids": list(claimed),
            "round_id": rnd.id,
            "face": rnd.coupon_face,
            "per_pack": rnd.coupons_per_pack,
        },
    ).all()
    postings.post_many(
        db,
        campaign_id=rnd.campaign_id,
        kind="acquire",
        entries=[
            (
                f"acquire:{acquisition_id}",
                [(postings.quota(rnd.id), postings.outstanding(rnd.id), pack)],
                f"person:{person_id}",
            )
            for person_id, acquisition_id in claimed.items()
        ],
        now=now,
    )
    taken = conn.execute(
        acquisition.TAKE_QUOTA,
        {"round_id": rnd.id, "amount": pack * len(claimed), "kept": reserve * pack},
    ).first()
    if taken is None:
        raise Fallback("the quota moved meanwhile")

    by_acquisition: dict[int, list[int]] = {}
    for acquisition_id, coupon_id in sorted(coupon_rows):
        by_acquisition.setdefault(acquisition_id, []).append(coupon_id)
    expires_at = to_jst(rnd.ends).isoformat()
    answers = {
        person_id: {
            "round": rnd.number,
            "coupons": [
                {
                    "id": coupon_id,
                    "round": rnd.number,
                    "face": rnd.coupon_face,
                    "state": coupon_wf.S.issued,
                    "expires_at": expires_at,
                }
                for coupon_id in by_acquisition[acquisition_id]
            ],
        }
        for person_id, acquisition_id in claimed.items()
    }
    _remember_keys(db, [ask for ask in asks if ask.key and ask.person_id in answers], answers)
    return answers


def _remember_keys(db: Session, asks: list[Ask], answers: dict[int, dict]) -> None:
    """The Idempotency-Key records of the acquired asks, with their answers, as
    kariya.residents.idempotency.run stores them. A key already there (a request with the same
    key running meanwhile) makes the batch fall back: that request and this one are settled by
    the single path, which claims the key first."""
    if not asks:
        return
    records = IdempotencyRecord.__table__
    stored = db.execute(
        insert_or_skip(db, records, on=["person_id", "key"]).returning(records.c.id),
        [
            {
                "person_id": ask.person_id,
                "key": ask.key,
                "request_hash": ask.digest,
                "status": 201,
                "body": json.dumps(answers[ask.person_id], ensure_ascii=False),
                "created_at": ask.now,
            }
            for ask in asks
        ],
    ).all()
    if len(stored) != len(asks):
        raise Fallback("an Idempotency-Key was taken meanwhile")
