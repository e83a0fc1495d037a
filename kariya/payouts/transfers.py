"""The bank side of a payout batch (F-1, F-4, F-5): the Zengin general transfer file of an
approved batch, the bank's results line by line (a failed transfer goes back to the next batch)
and the batch's reconciliation."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from kariya.campaign.models import Campaign
from kariya.errors import Conflict, Invalid
from kariya.ledger import postings
from kariya.payouts import zengin
from kariya.payouts.batches import release_items, split_amounts
from kariya.payouts.models import PayoutBatch
from kariya.settings import Settings
from kariya.stores.models import Store
from workflows import payout as payout_wf
from workflows.binding import fire


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
        if line.status != payout_wf.L.included:
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
        db.get(Store, line.store_id).code: line
        for line in batch.lines
        if line.status != payout_wf.L.held
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
        elif line.status != payout_wf.L.included:
            problems.append(f"{n}行目: 店舗 {r.store_code} の結果は登録済みです。")
        elif r.fee < 0:
            problems.append(f"{n}行目: 手数料が正しくありません。")
    if problems:
        raise Invalid("振込結果を登録できません。", details=problems)
    for r in results:
        line = lines[r.store_code]
        event = "transfer" if r.ok else "fail"
        fire(db, payout_wf.LINE, line, event, actor=actor, now=now, reason=r.reason)
        line.reason, line.fee = r.reason[:500], r.fee
        if r.ok:
            moves = [(postings.PAYABLE, postings.PAID, line.amount)]
        else:  # back to where it waited: the uses to used, the adjustments to adjusted
            uses, adjusted = split_amounts(db, [line.id])
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
            release_items(db, [line.id])
    if all(line.status in (payout_wf.L.transferred, payout_wf.L.failed) for line in lines.values()):
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
