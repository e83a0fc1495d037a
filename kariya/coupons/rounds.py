"""Round lifecycle with its money: open, close (expire and roll over), settle, halt, resume.

The budget rule (DESIGN.md section 2, I-3, I-4): Q_k = A_k + R_{k-1}, where R_{k-1} is the value of
round k-1's coupons unused at its end plus its unissued quota; after the last round the
remainder is returned to the city (F-6). Each step is a machine transition plus a ledger entry
with a unique ref, so running it twice posts nothing twice.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kariya.campaign.models import Campaign, Round
from kariya.coupons.models import Coupon
from kariya.errors import Conflict, Invalid
from kariya.ledger import postings
from workflows import coupon as coupon_wf
from workflows import round as round_wf
from workflows.binding import fire, fire_bulk, sources


def at(db: Session, campaign: Campaign, now) -> Round | None:
    """The round whose usage period contains `now`."""
    return db.scalar(
        select(Round).where(Round.campaign_id == campaign.id, Round.starts <= now, Round.ends > now)
    )


def previous(db: Session, rnd: Round) -> Round | None:
    return db.scalar(
        select(Round).where(Round.campaign_id == rnd.campaign_id, Round.number == rnd.number - 1)
    )


def following(db: Session, rnd: Round) -> Round | None:
    return db.scalar(
        select(Round).where(Round.campaign_id == rnd.campaign_id, Round.number == rnd.number + 1)
    )


def sell_out_if_exhausted(db: Session, rnd: Round, campaign: Campaign, *, actor: str, now) -> None:
    if rnd.state == round_wf.S.open and rnd.quota - rnd.issued < campaign.pack_amount:
        fire(db, round_wf.MACHINE, rnd, "sell_out", actor=actor, now=now, reason="配布上限に到達")


def open_round(db: Session, rnd: Round, campaign: Campaign, *, actor: str, now) -> None:
    prev = previous(db, rnd)
    if prev is not None and prev.state != round_wf.S.settled:
        raise Conflict(
            f"第{prev.number}回の繰越精算が済んでいないため、第{rnd.number}回を開始できません。"
        )
    if campaign.issuance_halted:
        fire(
            db,
            round_wf.MACHINE,
            rnd,
            "open_halted",
            actor=actor,
            now=now,
            reason="市による配布停止中",
        )
        return
    fire(db, round_wf.MACHINE, rnd, "open", actor=actor, now=now)
    sell_out_if_exhausted(db, rnd, campaign, actor=actor, now=now)


def close_round(db: Session, rnd: Round, campaign: Campaign, *, actor: str, now) -> None:
    """End of the usage period: unused coupons expire; unused value and unissued quota are
    moved to the round's rollover account."""
    fire(db, round_wf.MACHINE, rnd, "close", actor=actor, now=now)
    expired = fire_bulk(
        db,
        coupon_wf.MACHINE,
        Coupon.__table__,
        [Coupon.__table__.c.round_id == rnd.id],
        "expire",
        actor=actor,
        now=now,
        reason=f"第{rnd.number}回の利用期間終了",
    )
    postings.post(
        db,
        campaign_id=campaign.id,
        kind="close",
        ref=f"close:round:{rnd.id}",
        moves=[
            (
                postings.outstanding(rnd.id),
                postings.rollover(rnd.id),
                len(expired) * campaign.coupon_face,
            ),
            (postings.quota(rnd.id), postings.rollover(rnd.id), rnd.quota - rnd.issued),
        ],
        now=now,
        actor=actor,
        memo=f"第{rnd.number}回終了: 未使用{len(expired)}枚と未配布枠を繰越へ",
    )


def settle_round(db: Session, rnd: Round, campaign: Campaign, *, actor: str, now) -> int:
    """Post round k's rollover R_k into round k+1's quota, or back to the city after the last."""
    amount = postings.balance(db, postings.rollover(rnd.id))
    nxt = following(db, rnd)
    if nxt is not None:
        if nxt.state != round_wf.S.scheduled:
            raise Conflict(f"第{nxt.number}回はすでに開始しているため、繰越を加算できません。")
        db.execute(
            update(Round)
            .where(Round.id == nxt.id)
            .values(rollover_in=Round.rollover_in + amount, quota=Round.quota + amount)
        )
        db.refresh(nxt)
        moves = [(postings.rollover(rnd.id), postings.quota(nxt.id), amount)]
        memo = f"第{rnd.number}回の繰越 {amount:,}円 を第{nxt.number}回へ"
    else:
        leftover = postings.balance(db, postings.unallocated(campaign.id))
        moves = [
            (postings.rollover(rnd.id), postings.RETURNED, amount),
            (postings.unallocated(campaign.id), postings.RETURNED, leftover),
        ]
        memo = f"最終回の残額 {amount + leftover:,}円 を市へ返還"
    postings.post(
        db,
        campaign_id=campaign.id,
        kind="settle",
        ref=f"settle:round:{rnd.id}",
        moves=moves,
        now=now,
        actor=actor,
        memo=memo,
    )
    fire(db, round_wf.MACHINE, rnd, "settle", actor=actor, now=now, reason=memo)
    return amount


def halt(db: Session, campaign: Campaign, *, actor: str, now, reason: str) -> Round | None:
    """The city stops issuance (I-3): at once for the current round and for rounds to come.
    Coupons already issued stay usable until their round ends."""
    if not reason.strip():
        raise Invalid("停止の理由を入力してください。")
    campaign.issuance_halted = True
    rnd = at(db, campaign, now)
    if rnd is not None and rnd.state in sources(round_wf.MACHINE, "halt"):
        fire(db, round_wf.MACHINE, rnd, "halt", actor=actor, now=now, reason=reason)
    db.flush()
    return rnd


def resume(db: Session, campaign: Campaign, *, actor: str, now, reason: str = "") -> Round | None:
    campaign.issuance_halted = False
    rnd = at(db, campaign, now)
    if rnd is not None and rnd.state == round_wf.S.halted:
        fire(db, round_wf.MACHINE, rnd, "resume", actor=actor, now=now, reason=reason)
        sell_out_if_exhausted(db, rnd, campaign, actor=actor, now=now)
    db.flush()
    return rnd
