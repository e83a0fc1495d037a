"""Paying the stores (F-1..F-6, C-1): payout batches per settlement period, the city's approval
with four eyes, the Zengin file, the bank's results and reconciliation.

Every yen is traceable: a redemption is in at most one active payout item (a partial unique
index), an item belongs to one store's line, a line to one batch, and the ledger moves
used -> payable (approval) -> paid (transfer confirmed); a failed transfer moves back to used and
its uses go into the next batch. Approved adjustments (kariya.payouts.adjustments) ride in the same
lines as items of their own, moving adjusted -> payable -> paid.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.orm import Session

from kariya.campaign.models import Campaign, Round
from kariya.errors import Conflict, Forbidden, Invalid, NotFound
from kariya.ledger import postings
from kariya.payouts import settlement, zengin
from kariya.payouts.models import PayoutAdjustment, PayoutBatch, PayoutItem, PayoutLine
from kariya.redemptions.models import Redemption
from kariya.settings import Settings, settings_of
from kariya.stores.models import Store
from workflows import adjustment as adjustment_wf
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


def _payable_uses(db: Session, campaign: Campaign, until: dt.datetime, now: dt.datetime):
    """Confirmed uses before `until` whose void window has passed and that are in no active item."""
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
        )
        .order_by(Redemption.store_id, Redemption.id)
    ).all()


def _payable_adjustments(db: Session, campaign: Campaign):
    """Approved adjustments in no active item."""
    return db.execute(
        select(PayoutAdjustment.id, PayoutAdjustment.store_id, PayoutAdjustment.amount)
        .where(
            PayoutAdjustment.campaign_id == campaign.id,
            PayoutAdjustment.state == adjustment_wf.S.approved,
            ~exists().where(
                and_(PayoutItem.adjustment_id == PayoutAdjustment.id, PayoutItem.active)
            ),
        )
        .order_by(PayoutAdjustment.store_id, PayoutAdjustment.id)
    ).all()


def approved_adjustments(db: Session, campaign: Campaign) -> int:
    return int(
        db.scalar(
            select(func.coalesce(func.sum(PayoutAdjustment.amount), 0)).where(
                PayoutAdjustment.campaign_id == campaign.id,
                PayoutAdjustment.state == adjustment_wf.S.approved,
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
    if not any(line.status == "included" for line in batch.lines):
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


def _fill(db: Session, batch: PayoutBatch, campaign: Campaign, now: dt.datetime) -> None:
    by_store: dict[int, tuple[list, list]] = {}
    for row in _payable_uses(db, campaign, batch.period_ends, now):
        by_store.setdefault(row.store_id, ([], []))[0].append(row)
    for row in _payable_adjustments(db, campaign):
        by_store.setdefault(row.store_id, ([], []))[1].append(row)
    for store_id in sorted(by_store):
        rows, adjustments = by_store[store_id]
        store = db.get(Store, store_id)
        amount = sum(r.amount for r in rows) + sum(a.amount for a in adjustments)
        problem = account_problem(store)
        if not problem and amount <= 0:
            problem = "差し引く調整額が支払額以上のため保留(次回以降の利用と相殺)"
        line = PayoutLine(
            batch_id=batch.id,
            store_id=store_id,
            count=len(rows),
            amount=max(amount, 0),
            status="held" if problem else "included",
            reason=problem or "",
            bank_code=store.bank_code,
            branch_code=store.branch_code,
            account_type=store.account_type,
            account_number=(store.account_number or "").rjust(7, "0"),
            account_holder_kana=store.account_holder_kana,
        )
        db.add(line)
        db.flush()
        if not problem:  # held uses stay unassigned and are picked up by the next batch
            db.execute(
                PayoutItem.__table__.insert(),
                [{"line_id": line.id, "redemption_id": r.id, "adjustment_id": None} for r in rows]
                + [
                    {"line_id": line.id, "redemption_id": None, "adjustment_id": a.id}
                    for a in adjustments
                ],
            )
    db.flush()
    db.refresh(batch)


def totals(batch: PayoutBatch) -> dict:
    included = [line for line in batch.lines if line.status != "held"]
    return {
        "stores": len(included),
        "count": sum(line.count for line in included),
        "amount": sum(line.amount for line in included),
        "held_amount": sum(line.amount for line in batch.lines if line.status == "held"),
        "fees": sum(line.fee for line in batch.lines),
    }


def get(db: Session, batch_id: int) -> PayoutBatch:
    batch = db.get(PayoutBatch, batch_id)
    if batch is None:
        raise NotFound(f"支払バッチ No.{batch_id} はありません。")
    return batch


def submit(db: Session, clock, batch: PayoutBatch, *, actor: str) -> None:
    if not any(line.status == "included" for line in batch.lines):
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
    uses, adjusted = _split(db, [line.id for line in batch.lines if line.status == "included"])
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


def _split(db: Session, line_ids: list[int]) -> tuple[int, int]:
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
    _release(db, [line.id for line in batch.lines])
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


def _release(db: Session, line_ids: list[int]) -> None:
    if line_ids:
        db.execute(update(PayoutItem).where(PayoutItem.line_id.in_(line_ids)).values(active=False))


def remitter(settings: Settings) -> zengin.Remitter:
    return zengin.Remitter.from_settings(settings)


def export(
    db: Session,
    clock,
    batch: PayoutBatch,
    settings: Settings,
    *,
    actor: str,
    transfer_date: dt.date | None = None,
) -> bytes:
    """The Zengin file of an approved batch. Exporting again returns the same file and pays
    nobody twice: the file is built once and kept."""
    if (
        batch.state in (payout_wf.S.exported, payout_wf.S.transferred, payout_wf.S.reconciled)
        and batch.zengin_file
    ):
        return batch.zengin_file
    if batch.state != payout_wf.S.approved:
        raise Conflict("承認済みの支払バッチだけ振込データを出力できます。", code="NOT_APPROVED")
    now = clock.now()
    day = transfer_date or zengin.next_business_day(
        now.astimezone(ZoneInfo(db.get(Campaign, batch.campaign_id).timezone)).date(),
        settings.zengin.lead_days,
    )
    payees = []
    for line in batch.lines:
        if line.status != "included":
            continue
        store = db.get(Store, line.store_id)
        payees.append(
            zengin.Payee(
                label=f"店舗 {store.code} {store.name}",
                bank_code=line.bank_code,
                branch_code=line.branch_code,
                account_type=line.account_type,
                account_number=line.account_number,
                holder_kana=line.account_holder_kana,
                amount=line.amount,
                reference1=re.sub(r"\D", "", store.code)[-10:] or "0",
                reference2=str(batch.id),
            )
        )
    separator = b"\r\n" if settings.zengin.separator == "crlf" else b""
    data = zengin.build(
        remitter(settings),
        day,
        payees,
        separator=separator,
        transfer_code=settings.zengin.transfer_code,
    )
    fire(db, payout_wf.MACHINE, batch, "export", actor=actor, now=now)
    batch.zengin_file, batch.zengin_sha256, batch.transfer_date = (
        data,
        hashlib.sha256(data).hexdigest(),
        day,
    )
    db.flush()
    return data


@dataclasses.dataclass
class ResultLine:
    store_code: str
    amount: int
    ok: bool
    reason: str = ""
    fee: int = 0


def record_results(
    db: Session, clock, batch: PayoutBatch, results: list[ResultLine], *, actor: str
) -> list[str]:
    """The bank's results, line by line. Refuses (with reasons, writing nothing) a result for an
    unknown store, a different amount, or a line already settled. Transferred: payable -> paid;
    failed: payable -> used, and its uses go back to the next batch."""
    if batch.state != payout_wf.S.exported:
        raise Conflict(
            "振込データ出力済みの支払バッチだけ結果を登録できます。", code="NOT_EXPORTED"
        )
    now = clock.now()
    lines = {
        db.get(Store, line.store_id).code: line for line in batch.lines if line.status != "held"
    }
    problems = []
    for n, r in enumerate(results, start=1):
        line = lines.get(r.store_code)
        if line is None:
            problems.append(f"{n}行目: 店舗 {r.store_code} はこのバッチにありません。")
        elif line.amount != r.amount:
            problems.append(
                f"{n}行目: 店舗 {r.store_code} の金額 {r.amount:,}円 がバッチの {line.amount:,}円 と一致しません。"
            )
        elif line.status != "included":
            problems.append(f"{n}行目: 店舗 {r.store_code} の結果は登録済みです。")
        elif r.fee < 0:
            problems.append(f"{n}行目: 手数料が正しくありません。")
    if problems:
        raise Invalid("振込結果を登録できません。", details=problems)
    for r in results:
        line = lines[r.store_code]
        line.status, line.reason, line.fee = (
            ("transferred" if r.ok else "failed"),
            r.reason[:500],
            r.fee,
        )
        if r.ok:
            moves = [(postings.PAYABLE, postings.PAID, line.amount)]
        else:  # back to where it waited: the uses to used, the adjustments to adjusted
            uses, adjusted = _split(db, [line.id])
            moves = [
                (postings.PAYABLE, postings.USED, uses),
                (postings.PAYABLE, postings.ADJUSTED, adjusted),
            ]
        postings.post(
            db,
            campaign_id=batch.campaign_id,
            kind="paid" if r.ok else "failed",
            ref=f"{'paid' if r.ok else 'failed'}:line:{line.id}",
            moves=moves,
            now=now,
            actor=actor,
            memo=r.reason,
        )
        if not r.ok:
            _release(db, [line.id])
    if all(line.status in ("transferred", "failed") for line in lines.values()):
        fire(db, payout_wf.MACHINE, batch, "mark_transferred", actor=actor, now=now)
    db.flush()
    return problems


def parse_results_csv(text: str) -> list[ResultLine]:
    """CSV lines: store code, amount, result (成功/ok or 失敗/failed), reason, fee."""
    import csv
    import io

    rows, problems = [], []
    for n, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or row[0].strip() in ("", "店舗コード", "store_code"):
            continue
        try:
            code, amount, result = (
                row[0].strip(),
                int(row[1].replace(",", "")),
                row[2].strip().lower(),
            )
            fee = int(row[4]) if len(row) > 4 and row[4].strip() else 0
        except (IndexError, ValueError):
            problems.append(f"{n}行目: 「店舗コード,金額,結果,理由,手数料」の形式ではありません。")
            continue
        if result not in ("成功", "ok", "失敗", "failed"):
            problems.append(f"{n}行目: 結果は「成功」か「失敗」です。")
            continue
        rows.append(
            ResultLine(
                code, amount, result in ("成功", "ok"), row[3].strip() if len(row) > 3 else "", fee
            )
        )
    if problems:
        raise Invalid("振込結果ファイルに誤りがあります。", details=problems)
    return rows


def reconcile(db: Session, clock, batch: PayoutBatch, *, actor: str) -> None:
    fire(db, payout_wf.MACHINE, batch, "reconcile", actor=actor, now=clock.now())


def reconciliation(db: Session, campaign: Campaign) -> dict:
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
                PayoutAdjustment.state == adjustment_wf.S.approved,
            )
            .group_by(PayoutAdjustment.store_id)
        ).all()
    )
    paid: dict[int, int] = {}
    approved: dict[int, int] = {}
    for store_id, status, state, amount in by_status:
        if status == "transferred":
            paid[store_id] = paid.get(store_id, 0) + int(amount)
        elif status == "included" and state in PAYABLE_BATCH_STATES:
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
    _trace(adjustments, "an adjustment", adjustment_wf.S.approved, "adjusted", traced, problems)
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
        if line_status in ("failed", "held") or (line_status and state != payable_state):
            problems.append(
                f"{what} of {amount:,} is still in a {line_status} line ({state}): it would never be paid"
            )
        if state != payable_state:
            continue
        if line_status == "transferred":
            traced["paid"] += amount
        elif line_status == "included" and batch_state in PAYABLE_BATCH_STATES:
            traced["payable"] += amount
        else:
            traced[waiting] += amount


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
