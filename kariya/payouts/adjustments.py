"""Payout adjustments (F-5): a disputed use or a correction found in reconciliation becomes a
separate, signed amount for one store with a reason, proposed by the secretariat and approved by
someone else (four eyes). Uses and lines are never edited; an approved adjustment is paid (or
deducted) in the store's next payout batch, traced like a use. A payout hold waiting for an
adjustment (a confirmed fraud case's deduction, kariya.payouts.holds) is lifted when it is decided.

Where the money comes from (the coupon funds, F-6, stay within T):

    T = used + adjusted + outstanding + unissued + returned

An approved positive adjustment moves funds the programme has not handed out into the
`adjusted` account, from the first that can cover it:
  1. the campaign's unallocated funds (planned for no round);
  2. the unissued quota of the last round not yet closed (its planned amount and quota shrink by
     the amount, so no resident is promised money that is paid to a store instead);
  3. after the last round has settled, the remainder to be returned to the city.
If none can, the approval is refused. A negative adjustment (a use that should not be paid)
moves the amount back: to the unallocated funds while a round is still to come, otherwise to the
remainder returned to the city. `adjusted` then goes -> payable -> paid with the batches.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kariya.campaign.models import Campaign, Round
from kariya.coupons import rounds
from kariya.errors import Conflict, Forbidden, Invalid, NotFound
from kariya.ledger import postings
from kariya.payouts import holds
from kariya.payouts.models import PayoutAdjustment
from kariya.redemptions.models import Redemption
from kariya.stores import lookup, normalize
from kariya.stores.models import Store
from workflows import payout as payout_wf
from workflows import round as round_wf
from workflows.binding import fire, label


def state_label(state: str) -> str:
    return label(payout_wf.ADJUSTMENT, state)


def _campaign(db: Session) -> Campaign:
    campaign = db.scalar(select(Campaign).order_by(Campaign.id.desc()).limit(1))
    if campaign is None:
        raise Invalid("キャンペーンが登録されていません。")
    return campaign


def parse_amount(value, max_amount: int) -> int:
    text = normalize.nfkc(value).replace(",", "").replace("円", "").replace("¥", "").strip()
    text = text.replace("−", "-").replace("ー", "-")
    try:
        amount = int(text)
    except ValueError:
        raise Invalid(
            "調整額は円単位の整数で入力してください(差し引く場合は「-500」のように)。"
        ) from None
    if amount == 0:
        raise Invalid("調整額が0円です。")
    if abs(amount) > max_amount:
        raise Invalid(f"調整額は1件あたり{max_amount:,}円までです。")
    return amount


def propose(
    db: Session,
    clock,
    *,
    store_code: str,
    amount,
    reason: str,
    actor: str,
    max_amount: int,
    confirmation_code: str = "",
) -> PayoutAdjustment:
    """A proposal; it changes no money until someone else approves it."""
    campaign = _campaign(db)
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("調整の理由を入力してください(記録に残ります)。")
    amount = parse_amount(amount, max_amount)
    code = normalize.code(store_code or "", what="店舗コード")
    store = lookup.by_code(db, code) if code else None
    if store is None:
        raise Invalid(f"店舗コード「{store_code}」の店舗はありません。")
    redemption_id = None
    confirmation_code = normalize.nfkc(confirmation_code or "").strip().upper()
    if confirmation_code:
        redemption_id = db.scalar(
            select(Redemption.id)
            .join(Round, Round.id == Redemption.round_id)
            .where(
                Round.campaign_id == campaign.id,
                Redemption.store_id == store.id,
                Redemption.confirmation_code == confirmation_code,
            )
            .order_by(Redemption.id.desc())
            .limit(1)
        )
        if redemption_id is None:
            raise Invalid(
                f"店舗「{store.name}」に確認番号 {confirmation_code} の利用はありません。"
            )
    adjustment = PayoutAdjustment(
        campaign_id=campaign.id,
        store_id=store.id,
        redemption_id=redemption_id,
        amount=amount,
        reason=reason[:500],
        state=payout_wf.A.proposed,
        proposed_by=actor,
        proposed_at=clock.now(),
        decision_reason="",
    )
    db.add(adjustment)
    db.flush()
    return adjustment


def get(db: Session, adjustment_id: int) -> PayoutAdjustment:
    adjustment = db.get(PayoutAdjustment, adjustment_id)
    if adjustment is None:
        raise NotFound(f"調整 No.{adjustment_id} はありません。")
    return adjustment


def listing(db: Session, *, state: str | None = None) -> list[tuple[PayoutAdjustment, Store]]:
    query = select(PayoutAdjustment, Store).join(Store, Store.id == PayoutAdjustment.store_id)
    if state:
        query = query.where(PayoutAdjustment.state == state)
    return list(db.execute(query.order_by(PayoutAdjustment.id.desc()).limit(200)).all())


def _last_round_settled(db: Session, campaign: Campaign) -> bool:
    last = db.scalar(
        select(Round).where(Round.campaign_id == campaign.id).order_by(Round.number.desc())
    )
    return last is None or last.state == round_wf.S.settled


def _fund(db: Session, campaign: Campaign, amount: int, now) -> tuple[str, str]:
    """The account a positive adjustment is paid from, and how to say so."""
    if postings.balance(db, postings.unallocated(campaign.id)) >= amount:
        return postings.unallocated(campaign.id), "未配分の資金"
    open_rounds = db.scalars(
        select(Round)
        .where(
            Round.campaign_id == campaign.id,
            Round.state.notin_((round_wf.S.closed, round_wf.S.settled)),
        )
        .order_by(Round.number.desc())
    ).all()
    for rnd in open_rounds:
        # Shrink the round's quota only if that much is still unissued (a conditional update,
        # safe beside the acquisitions that raise `issued`).
        moved = db.execute(
            update(Round)
            .where(
                Round.id == rnd.id,
                Round.quota - Round.issued >= amount,
                Round.planned >= amount,
            )
            .values(planned=Round.planned - amount, quota=Round.quota - amount)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount == 1:
            db.refresh(rnd)
            rounds.sell_out_if_exhausted(db, rnd, campaign, actor="system:adjustment", now=now)
            return postings.quota(rnd.id), f"第{rnd.number}回の未配布枠"
    if _last_round_settled(db, campaign) and postings.balance(db, postings.RETURNED) >= amount:
        return postings.RETURNED, "市へ返還する残額"
    raise Conflict(
        f"調整額 {amount:,}円 に充てる資金(未配分の資金・未配布枠・返還予定の残額)が足りません。",
        code="NO_FUNDS",
    )


def approve(db: Session, clock, adjustment: PayoutAdjustment, *, actor: str) -> str:
    """Someone other than the proposer approves: the amount becomes owed to (or by) the store
    and goes into its next batch. Returns where the money came from or went."""
    if adjustment.proposed_by == actor:
        raise Forbidden("自分が起案した調整は承認できません(ダブルチェック)。", code="FOUR_EYES")
    campaign = db.get(Campaign, adjustment.campaign_id)
    now = clock.now()
    fire(db, payout_wf.ADJUSTMENT, adjustment, "approve", actor=actor, now=now)
    if adjustment.amount > 0:
        source, said = _fund(db, campaign, adjustment.amount, now)
        moves = [(source, postings.ADJUSTED, adjustment.amount)]
    else:
        if _last_round_settled(db, campaign):
            dest, said = postings.RETURNED, "市へ返還する残額"
        else:
            dest, said = postings.unallocated(campaign.id), "未配分の資金"
        moves = [(postings.ADJUSTED, dest, -adjustment.amount)]
    adjustment.decided_by, adjustment.decided_at = actor, now
    postings.post(
        db,
        campaign_id=campaign.id,
        kind="adjust",
        ref=f"adjust:{adjustment.id}",
        moves=moves,
        now=now,
        actor=actor,
        memo=f"調整 No.{adjustment.id}: {adjustment.reason}",
    )
    db.flush()
    holds.release_awaiting(db, clock, adjustment.id, actor=actor)  # a confirmed case's hold
    return said


def reject(db: Session, clock, adjustment: PayoutAdjustment, *, actor: str, reason: str) -> None:
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("不承認の理由を入力してください。")
    if adjustment.proposed_by == actor:
        raise Forbidden("自分が起案した調整は判断できません(ダブルチェック)。", code="FOUR_EYES")
    now = clock.now()
    fire(db, payout_wf.ADJUSTMENT, adjustment, "reject", actor=actor, now=now, reason=reason)
    adjustment.decided_by, adjustment.decided_at = actor, now
    adjustment.decision_reason = reason[:500]
    db.flush()
    holds.release_awaiting(db, clock, adjustment.id, actor=actor)
