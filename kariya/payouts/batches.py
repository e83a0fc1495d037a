"""Paying the stores (F-1..F-6, C-1): payout batches per settlement period and the city's
approval with four eyes. The bank side (the Zengin file, the bank's results) is
kariya.payouts.transfers; what is owed and paid per store, kariya.payouts.reconciliation.

Every yen is traceable: a redemption is in at most one active payout item (a partial unique
index), an item belongs to one store's line, a line to one batch, and the ledger moves
used -> payable (approval) -> paid (transfer confirmed); a failed transfer moves back to used and
its uses go into the next batch. Approved adjustments (kariya.payouts.adjustments) ride in the same
lines as items of their own, moving adjusted -> payable -> paid.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.orm import Session

from kariya.campaign.models import Campaign, Round
from kariya.errors import Conflict, Forbidden, Invalid, NotFound
from kariya.ledger import postings
from kariya.payouts import settlement, zengin
from kariya.payouts.models import (
    PayoutAdjustment,
    PayoutBatch,
    PayoutHold,
    PayoutItem,
    PayoutLine,
)
from kariya.redemptions.models import Redemption
from kariya.settings import Settings, settings_of
from kariya.stores.models import Store
from workflows import payout as payout_wf
from workflows import redemption as redemption_wf
from workflows import store as store_wf
from workflows.binding import fire

# A batch the city has approved and the bank has not yet answered: its included lines are payable.
PAYABLE_BATCH_STATES = (payout_wf.S.approved, payout_wf.S.exported)


def _campaign(db: Session) -> Campaign:
    campaign = db.scalar(select(Campaign).order_by(Campaign.id.desc()).limit(1))
    if campaign is None:
        raise Invalid("キャンペーンが登録されていません。")
    return campaign


def account_problem(store: Store) -> str | None:
    """Why a store cannot be paid now, or None."""
    if store.state != store_wf.S.active:
        return "店舗が利用停止中のため保留"
    if not (
        re.fullmatch(r"\d{4}", store.bank_code or "")
        and re.fullmatch(r"\d{3}", store.branch_code or "")
    ):
        return "振込先の金融機関・支店が未登録のため保留"
    if not re.fullmatch(r"\d{1,7}", store.account_number or "") or not store.account_holder_kana:
        return "振込先の口座番号・名義が未登録のため保留"
    try:
        zengin.check_bank(store.bank_code, store.branch_code, payee=store.code)
        zengin.normalize_name(store.account_holder_kana, 30)
    except zengin.ZenginError as exc:
        return f"振込先に誤りがあるため保留: {exc.message}"
    return None


def _payable_uses(
    db: Session, campaign: Campaign, until: dt.datetime, now: dt.datetime, *only_store: int
):
    """Confirmed uses before `until` whose void window has passed and that are in no active item
    (of every store, or of `only_store`)."""
    window = dt.timedelta(minutes=campaign.void_window_minutes)
    return db.execute(
        select(Redemption.id, Redemption.store_id, Redemption.amount)
        .join(Round, Round.id == Redemption.round_id)
        .where(
            Round.campaign_id == campaign.id,
            Redemption.state == redemption_wf.S.confirmed,
            Redemption.used_at < until,
            Redemption.used_at <= now - window,
            ~exists().where(and_(PayoutItem.redemption_id == Redemption.id, PayoutItem.active)),
            *([Redemption.store_id == only_store[0]] if only_store else []),
        )
        .order_by(Redemption.store_id, Redemption.id)
    ).all()


def _payable_adjustments(db: Session, campaign: Campaign, *only_store: int):
    """Approved adjustments in no active item."""
    return db.execute(
        select(PayoutAdjustment.id, PayoutAdjustment.store_id, PayoutAdjustment.amount)
        .where(
            PayoutAdjustment.campaign_id == campaign.id,
            PayoutAdjustment.state == payout_wf.A.approved,
            ~exists().where(
                and_(PayoutItem.adjustment_id == PayoutAdjustment.id, PayoutItem.active)
            ),
            *([PayoutAdjustment.store_id == only_store[0]] if only_store else []),
        )
        .order_by(PayoutAdjustment.store_id, PayoutAdjustment.id)
    ).all()


def active_holds(db: Session) -> dict[int, str]:
    """The reason each held store's payments wait (kariya.payouts.holds), the oldest hold's."""
    found: dict[int, str] = {}
    for store_id, reason in db.execute(
        select(PayoutHold.store_id, PayoutHold.reason)
        .where(PayoutHold.released_at.is_(None))
        .order_by(PayoutHold.id)
    ):
        found.setdefault(store_id, reason)
    return found


def approved_adjustments(db: Session, campaign: Campaign) -> int:
    return int(
        db.scalar(
            select(func.coalesce(func.sum(PayoutAdjustment.amount), 0)).where(
                PayoutAdjustment.campaign_id == campaign.id,
                PayoutAdjustment.state == payout_wf.A.approved,
            )
        )
    )


def build(
    db: Session, clock, settings: Settings, *, actor: str, period_end: dt.datetime | None = None
) -> PayoutBatch:
    """A draft batch for the last settlement period that has ended (or the one ending at
    `period_end`), holding every payable use not yet in a batch, one line per store. One
    transaction: a worker killed halfway leaves no half batch."""
    now = clock.now()
    campaign = db.scalar(select(Campaign).order_by(Campaign.id.desc()).limit(1).with_for_update())
    if campaign is None:
        raise Invalid("キャンペーンが登録されていません。")
    busy = db.scalar(
        select(PayoutBatch).where(
            PayoutBatch.campaign_id == campaign.id,
            PayoutBatch.state.in_((payout_wf.S.draft, payout_wf.S.submitted)),
        )
    )
    if busy is not None:
        raise Conflict(
            f"処理中の支払バッチ(No.{busy.id})があります。先に承認または差戻しを済ませてください。",
            code="BATCH_IN_PROGRESS",
        )
    cutoffs, zone = cutoffs_of(settings), ZoneInfo(campaign.timezone)
    period = settlement.period_of(
        period_end - dt.timedelta(microseconds=1) if period_end else now, cutoffs, zone
    )
    if period_end is None and period.ends > now:
        # The current period has not ended: pay the previous one.
        period = settlement.period_of(period.starts - dt.timedelta(microseconds=1), cutoffs, zone)
    batch = PayoutBatch(
        campaign_id=campaign.id,
        period_key=period.key,
        period_starts=period.starts,
        period_ends=period.ends,
        state=payout_wf.S.draft,
        created_at=now,
        created_by=actor,
    )
    db.add(batch)
    db.flush()
    _fill(db, batch, campaign, now)
    if not any(line.status == payout_wf.L.included for line in batch.lines):
        held = "、".join(
            f"{db.get(Store, line.store_id).code}({line.reason})" for line in batch.lines
        )
        # Refused, so the transaction rolls back: an empty draft would block the next batches.
        raise Conflict(
            f"{period.label}に支払う利用はありません。" + (f" 保留: {held}" if held else ""),
            code="NOTHING_TO_PAY",
        )
    return batch


def cutoffs_of(settings: Settings | Mapping) -> tuple[int, ...]:
    """The settlement cadence (setting kariya.settlement.cutoffs, e.g. "15" or "10,20"). An ini
    mapping is read too: kariya.materials passes its dict (until it reads the fields)."""
    return settings_of(settings).settlement.cutoffs


NETTED = "差し引く調整額が支払額以上のため保留(次回以降の利用と相殺)"


def _fill(db: Session, batch: PayoutBatch, campaign: Campaign, now: dt.datetime) -> None:
    by_store: dict[int, tuple[list, list]] = {}
    for row in _payable_uses(db, campaign, batch.period_ends, now):
        by_store.setdefault(row.store_id, ([], []))[0].append(row)
    for row in _payable_adjustments(db, campaign):
        by_store.setdefault(row.store_id, ([], []))[1].append(row)
    held = active_holds(db)
    for store_id in sorted(by_store):
        rows, adjustments = by_store[store_id]
        store = db.get(Store, store_id)
        amount = sum(r.amount for r in rows) + sum(a.amount for a in adjustments)
        problem = account_problem(store) or held.get(store_id)
        if not problem and amount <= 0:
            problem = NETTED
        line = PayoutLine(batch_id=batch.id, store_id=store_id, status=payout_wf.L.held)
        _set_line(line, store, rows, amount, problem)
        db.add(line)
        db.flush()
        if not problem:  # held uses stay unassigned and are picked up by the next batch
            _add_items(db, line, rows, adjustments)
    db.flush()
    db.refresh(batch)


def _set_line(line: PayoutLine, store: Store, rows, amount: int, problem: str | None) -> None:
    line.count, line.amount = len(rows), max(amount, 0)
    line.status = payout_wf.L.held if problem else payout_wf.L.included
    line.reason = problem or ""
    line.bank_code, line.branch_code = store.bank_code, store.branch_code
    line.account_type = store.account_type
    line.account_number = (store.account_number or "").rjust(7, "0")
    line.account_holder_kana = store.account_holder_kana


def _add_items(db: Session, line: PayoutLine, rows, adjustments) -> None:
    db.execute(
        PayoutItem.__table__.insert(),
        [{"line_id": line.id, "redemption_id": r.id, "adjustment_id": None} for r in rows]
        + [{"line_id": line.id, "redemption_id": None, "adjustment_id": a.id} for a in adjustments],
    )


def include_again(db: Session, clock, line: PayoutLine, *, actor: str) -> bool:
    """A held line of a draft batch is paid after all (its hold was lifted): its store's uses
    and approved adjustments payable now go into it, unless another reason still holds it (then
    that reason is shown). A submitted batch is frozen: its held lines wait for the next batch."""
    batch = line.batch
    if batch.state != payout_wf.S.draft or line.status != payout_wf.L.held:
        return False
    campaign, now = db.get(Campaign, batch.campaign_id), clock.now()
    store = db.get(Store, line.store_id)
    rows = _payable_uses(db, campaign, batch.period_ends, now, store.id)
    adjustments = _payable_adjustments(db, campaign, store.id)
    amount = sum(r.amount for r in rows) + sum(a.amount for a in adjustments)
    problem = account_problem(store) or active_holds(db).get(store.id)
    if not problem and amount <= 0:
        problem = NETTED
    if problem:
        _set_line(line, store, rows, amount, problem)
        db.flush()
        return False
    fire(db, payout_wf.LINE, line, "release", actor=actor, now=now, reason="保留の解除")
    _set_line(line, store, rows, amount, None)
    db.flush()
    _add_items(db, line, rows, adjustments)
    db.flush()
    return True


def totals(batch: PayoutBatch) -> dict:
    included = [line for line in batch.lines if line.status != payout_wf.L.held]
    return {
        "stores": len(included),
        "count": sum(line.count for line in included),
        "amount": sum(line.amount for line in included),
        "held_amount": sum(line.amount for line in batch.lines if line.status == payout_wf.L.held),
        "fees": sum(line.fee for line in batch.lines),
    }


def get(db: Session, batch_id: int) -> PayoutBatch:
    batch = db.get(PayoutBatch, batch_id)
    if batch is None:
        raise NotFound(f"支払バッチ No.{batch_id} はありません。")
    return batch


def submit(db: Session, clock, batch: PayoutBatch, *, actor: str) -> None:
    if not any(line.status == payout_wf.L.included for line in batch.lines):
        raise Conflict("振込する明細がありません。", code="EMPTY_BATCH")
    fire(db, payout_wf.MACHINE, batch, "submit", actor=actor, now=clock.now())
    batch.submitted_by = actor
    db.flush()


def approve(db: Session, clock, batch: PayoutBatch, *, actor: str) -> None:
    """The city approves: never the person who submitted it (four eyes). Moves used -> payable."""
    if batch.submitted_by == actor or batch.created_by == actor:
        raise Forbidden(
            "自分が作成・申請した支払バッチは承認できません(ダブルチェック)。", code="FOUR_EYES"
        )
    now = clock.now()
    fire(db, payout_wf.MACHINE, batch, "approve", actor=actor, now=now)
    batch.approved_by = actor
    uses, adjusted = split_amounts(
        db, [line.id for line in batch.lines if line.status == payout_wf.L.included]
    )
    postings.post(
        db,
        campaign_id=batch.campaign_id,
        kind="approve",
        ref=f"approve:batch:{batch.id}",
        moves=[
            (postings.USED, postings.PAYABLE, uses),
            (postings.ADJUSTED, postings.PAYABLE, adjusted),
        ],
        now=now,
        actor=actor,
        memo=f"支払バッチ No.{batch.id} 承認",
    )
    db.flush()


def split_amounts(db: Session, line_ids: list[int]) -> tuple[int, int]:
    """How much of these lines is uses and how much adjustments (their active items)."""
    if not line_ids:
        return 0, 0
    uses = db.scalar(
        select(func.coalesce(func.sum(Redemption.amount), 0))
        .join(PayoutItem, PayoutItem.redemption_id == Redemption.id)
        .where(PayoutItem.line_id.in_(line_ids), PayoutItem.active)
    )
    adjusted = db.scalar(
        select(func.coalesce(func.sum(PayoutAdjustment.amount), 0))
        .join(PayoutItem, PayoutItem.adjustment_id == PayoutAdjustment.id)
        .where(PayoutItem.line_id.in_(line_ids), PayoutItem.active)
    )
    return int(uses), int(adjusted)


def reject(db: Session, clock, batch: PayoutBatch, *, actor: str, reason: str) -> None:
    """Back to the secretariat with a reason; the uses are released for a rebuilt batch."""
    if not reason.strip():
        raise Invalid("差戻しの理由を入力してください。")
    if batch.submitted_by == actor:
        raise Forbidden("自分が申請した支払バッチは差し戻せません。", code="FOUR_EYES")
    fire(db, payout_wf.MACHINE, batch, "reject", actor=actor, now=clock.now(), reason=reason)
    batch.decision_reason = reason[:500]
    release_items(db, [line.id for line in batch.lines])
    db.flush()


def redraft(db: Session, clock, batch: PayoutBatch, *, actor: str) -> None:
    """A rejected batch becomes a draft again, rebuilt from the uses payable now."""
    now = clock.now()
    fire(db, payout_wf.MACHINE, batch, "redraft", actor=actor, now=now)
    line_ids = [line.id for line in batch.lines]
    if line_ids:  # the rejected lines were never approved, so never posted: rebuild them
        db.execute(PayoutItem.__table__.delete().where(PayoutItem.line_id.in_(line_ids)))
        db.execute(PayoutLine.__table__.delete().where(PayoutLine.id.in_(line_ids)))
    db.expire(batch, ["lines"])
    batch.created_by, batch.submitted_by, batch.approved_by = actor, None, None
    _fill(db, batch, db.get(Campaign, batch.campaign_id), now)


def release_items(db: Session, line_ids: list[int]) -> None:
    if line_ids:
        db.execute(update(PayoutItem).where(PayoutItem.line_id.in_(line_ids)).values(active=False))


def batches(db: Session) -> list[PayoutBatch]:
    return list(db.scalars(select(PayoutBatch).order_by(PayoutBatch.id.desc())))


def store_lines(db: Session, store_id: int) -> list[tuple[PayoutBatch, PayoutLine]]:
    """A store's own statements: its lines in every batch."""
    return list(
        db.execute(
            select(PayoutBatch, PayoutLine)
            .join(PayoutLine, PayoutLine.batch_id == PayoutBatch.id)
            .where(PayoutLine.store_id == store_id)
            .order_by(PayoutBatch.id.desc())
        ).all()
    )
