"""A fraud case's events through the fraud-case machine (workflows/fraud.py; DESIGN §5.2
`POST /api/v1/staff/fraud-cases/{id}/events`): the secretariat reviews (`review`), the city
decides (`clear` or `confirm`), each with a note kept in the case's history.

What each step does to the money, for a store's case (kariya.payouts does it):
- review: the store's payments are held (its lines of batches the bank has not received are
  held with the reason shown; held lines never reach the Zengin file);
- clear: the hold is lifted, a draft batch's held line is paid after all;
- confirm: the evidence's takings (or the amount the city gives) are deducted by an adjustment
  proposed in the city official's name through the four-eyes adjustment flow (someone else
  approves it); the hold stays until that adjustment is decided. Never an edit of a use.
A resident's case changes no money: confirming it records the decision.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kariya import roles
from kariya.audit.access import Viewer
from kariya.errors import Forbidden, Invalid, NotFound
from kariya.fraud import rules as fraud_rules
from kariya.fraud.models import FraudCase, FraudEvidence
from kariya.payouts import adjustments, holds
from kariya.payouts.models import PayoutAdjustment
from kariya.redemptions.models import Redemption
from kariya.settings import Settings
from kariya.stores import normalize
from kariya.stores.models import Store
from workflows import fraud as fraud_wf
from workflows import redemption as redemption_wf
from workflows.binding import fire

EVENT_ROLES = {
    "review": (roles.SECRETARIAT,),
    "clear": (roles.CITY,),
    "confirm": (roles.CITY,),
}
NOTE_REQUIRED = ("clear", "confirm")
NOTE_MAX = 500


@dataclasses.dataclass
class Applied:
    case: FraudCase
    said: list[str]
    adjustment: PayoutAdjustment | None = None


def source(case: FraudCase) -> str:
    """How the case names itself to kariya.payouts (the hold's source)."""
    return f"fraud_case:{case.id}"


def get(db: Session, case_id) -> FraudCase:
    case = db.get(FraudCase, int(case_id)) if str(case_id).isdigit() else None
    if case is None:
        raise NotFound(f"不正検知の案件 No.{case_id} はありません。")
    return case


def evidence_total(db: Session, case: FraudCase) -> tuple[int, int]:
    """The number and amount of the evidence's uses that stand (not voided)."""
    n, amount = db.execute(
        select(func.count(), func.coalesce(func.sum(Redemption.amount), 0))
        .select_from(FraudEvidence)
        .join(Redemption, Redemption.id == FraudEvidence.redemption_id)
        .where(FraudEvidence.case_id == case.id, Redemption.state == redemption_wf.S.confirmed)
    ).one()
    return int(n), int(amount)


def parse_deduction(value, total: int, max_amount: int) -> int:
    """The amount a confirmed store case deducts: the evidence's takings unless the city gives
    another (0: nothing to deduct); never more than the evidence's takings."""
    if value is None or (isinstance(value, str) and not value.strip()):
        amount = total
    else:
        digits = normalize.nfkc(str(value)).replace(",", "").replace("円", "").strip()
        if not digits.isdigit():
            raise Invalid("差し引く金額は0以上の円単位の整数で入力してください。")
        amount = int(digits)
    if amount > total:
        raise Invalid(f"証拠の利用額 {total:,}円 を超えて差し引くことはできません。")
    if amount > max_amount:
        raise Invalid(
            f"差し引く金額 {amount:,}円 が調整1件の上限 {max_amount:,}円 を超えています。"
            "金額を分けて「支払額の調整」から起案してください。"
        )
    return amount


def apply(
    db: Session,
    clock,
    settings: Settings,
    viewer: Viewer,
    case: FraudCase,
    event,
    note="",
    *,
    amount=None,
) -> Applied:
    """Fire `event` on the case (409 BAD_TRANSITION where the machine refuses it) and do what
    it means for the store's payments."""
    if not isinstance(event, str) or event not in EVENT_ROLES:
        raise Invalid(f"event は {', '.join(EVENT_ROLES)} のいずれかです。")
    if viewer.role not in EVENT_ROLES[event]:
        raise Forbidden(
            "調査の開始は事務局が行います。"
            if event == "review"
            else "問題なし・不正の確定は市の担当者が判断します。"
        )
    note = normalize.nfkc(note if isinstance(note, str) else "").strip()
    if len(note) > NOTE_MAX:
        raise Invalid(f"メモは{NOTE_MAX}文字以内で入力してください。")
    if event in NOTE_REQUIRED and not note:
        raise Invalid("判断の理由を入力してください(案件の記録に残ります)。")
    store = db.get(Store, case.store_id) if case.store_id is not None else None
    deduction = 0
    if event == "confirm" and store is not None:
        deduction = parse_deduction(
            amount, evidence_total(db, case)[1], settings.adjustments.max_amount
        )
    now = clock.now()
    fire(db, fraud_wf.MACHINE, case, event, actor=viewer.actor, now=now, reason=note)
    case.updated_at = now
    if event in ("clear", "confirm"):
        case.decided_by, case.decided_at = viewer.actor, now
    applied = Applied(case, [])
    if store is None:
        db.flush()
        return applied
    label = fraud_rules.label(case.rule)
    if event == "review":
        applied.said = holds.place(
            db,
            clock,
            store_id=store.id,
            source=source(case),
            # Shown on the store's statement too: neutral while it is only a suspicion.
            reason=f"利用内容の確認中のため保留(案件 No.{case.id})",
            actor=viewer.actor,
        )
    elif event == "clear" or deduction == 0:
        applied.said = holds.release(db, clock, source=source(case), actor=viewer.actor)
    else:
        adjustment = adjustments.propose(
            db,
            clock,
            store_code=store.code,
            amount=-deduction,
            reason=f"不正利用と確定した利用の差し引き(案件 No.{case.id}: {label})",
            actor=viewer.actor,
            max_amount=settings.adjustments.max_amount,
        )
        case.adjustment_id = adjustment.id
        holds.await_adjustment(
            db,
            source=source(case),
            adjustment_id=adjustment.id,
            reason=f"調整 No.{adjustment.id} の判断待ちのため保留(案件 No.{case.id})",
        )
        applied.adjustment = adjustment
        applied.said = [
            f"調整 No.{adjustment.id}({-deduction:,}円)を起案しました。市の別の担当者が"
            "「支払額の調整」で承認すると、次回の支払から差し引きます。それまで支払は保留です。"
        ]
    db.flush()
    return applied
