"""A store's transfer account and the requests to change it (F-5: no wrong transfer).

Changing where a store's money goes is a classic fraud path (a stolen portal password, a forged
letter), so a store never changes its account itself: it files a request, the store's registered
e-mail address is told at once, and the secretariat approves it only after calling the store on
the telephone number on record. Until then, payments go to the account on record. The approval
is written to the store's history."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kariya.clock import to_jst
from kariya.errors import Conflict, Invalid, NotFound
from kariya.mail import outbox
from kariya.payouts.models import BankChangeRequest, PayoutBatch, PayoutLine
from kariya.settings import Settings
from kariya.stores import bank_fields, normalize, registration
from kariya.stores.models import Store
from workflows import payout as payout_wf
from workflows import store as store_wf
from workflows.binding import fire, label

FIELDS = tuple(normalize.BANK_ACCOUNT)
HEADERS = {
    "bank_code": "金融機関コード",
    "branch_code": "支店コード",
    "account_type": "預金種目",
    "account_number": "口座番号",
    "account_holder_kana": "口座名義カナ",
}


def describe(account) -> str:
    """An account as people read it: "三菱UFJ銀行(0005) 刈谷支店(123) 普通 1234567 ｶ)ｶﾘﾔ"."""
    if not getattr(account, "bank_code", ""):
        return "未登録"
    bank, branch = bank_fields.bank_names(account.bank_code, account.branch_code)
    return (
        f"{bank}({account.bank_code}) {branch}({account.branch_code}) "
        f"{account.account_type} {account.account_number} {account.account_holder_kana}"
    )


def validate(form: dict) -> dict[str, str]:
    """The five fields as banks register them, or Invalid listing every problem."""
    values, problems = {}, []
    for key in FIELDS:
        try:
            values[key] = normalize.BANK_ACCOUNT[key](form.get(key, ""))
        except normalize.NormalizeError as exc:
            problems.append(exc.message)
            continue
        if not values[key]:
            problems.append(f"{HEADERS[key]}を入力してください。")
    if not problems:
        try:
            bank_fields.check_bank(values["bank_code"], values["branch_code"], payee="振込先")
        except bank_fields.ZenginError as exc:
            problems.append(exc.message)
    if problems:
        raise Invalid("振込先口座の入力に誤りがあります。", details=problems)
    return values


def open_request(db: Session, store_id: int) -> BankChangeRequest | None:
    return db.scalar(
        select(BankChangeRequest).where(
            BankChangeRequest.store_id == store_id, BankChangeRequest.state == store_wf.B.requested
        )
    )


def requests_of(db: Session, store_id: int) -> list[BankChangeRequest]:
    return list(
        db.scalars(
            select(BankChangeRequest)
            .where(BankChangeRequest.store_id == store_id)
            .order_by(BankChangeRequest.id.desc())
        )
    )


def pending(db: Session) -> list[tuple[BankChangeRequest, Store]]:
    return list(
        db.execute(
            select(BankChangeRequest, Store)
            .join(Store, Store.id == BankChangeRequest.store_id)
            .where(BankChangeRequest.state == store_wf.B.requested)
            .order_by(BankChangeRequest.requested_at)
        ).all()
    )


def recent_decided(db: Session, limit: int = 50) -> list[tuple[BankChangeRequest, Store]]:
    return list(
        db.execute(
            select(BankChangeRequest, Store)
            .join(Store, Store.id == BankChangeRequest.store_id)
            .where(BankChangeRequest.state != store_wf.B.requested)
            .order_by(BankChangeRequest.id.desc())
            .limit(limit)
        ).all()
    )


def get(db: Session, request_id: int, *, store_id: int | None = None) -> BankChangeRequest:
    """A request; with `store_id`, only that store's own (another store's is "not found")."""
    req = db.get(BankChangeRequest, request_id)
    if req is None or (store_id is not None and req.store_id != store_id):
        raise NotFound(f"口座変更申請 No.{request_id} はありません。")
    return req


def warnings(req: BankChangeRequest, store: Store) -> list[str]:
    """What the approver should look at twice."""
    found = []
    if store.account_holder_kana and req.account_holder_kana != store.account_holder_kana:
        found.append(
            f"口座名義が変わります({store.account_holder_kana} → {req.account_holder_kana})。"
            "名義変更の理由を店舗に確認してください。"
        )
    if store.bank_code and req.bank_code != store.bank_code:
        found.append("金融機関が変わります。")
    if store.state != store_wf.S.active:
        found.append(f"店舗は「{label(store_wf.MACHINE, store.state)}」の状態です。")
    return found


def _mail_context(store: Store, req: BankChangeRequest, settings: Settings) -> dict:
    return {
        "store": store,
        "req": req,
        "new_account": describe(req),
        "requested_at": to_jst(req.requested_at).strftime("%Y年%m月%d日 %H:%M"),
        "phone": settings.callcenter.phone,
        "outcome": label(store_wf.BANK_CHANGE, req.state),
    }


def _tell_store(db: Session, clock, store: Store, req: BankChangeRequest, settings, template):
    subject, body = outbox.render(template, **_mail_context(store, req, settings))
    return outbox.queue(
        db,
        clock,
        ref=f"bank_change:{req.id}:{req.state}",
        to_addr=store.email,
        subject=subject,
        body=body,
        store_id=store.id,
    )


def request_change(
    db: Session, clock, settings: Settings, store: Store, form: dict, *, actor: str
) -> BankChangeRequest:
    """A store asks for a new account. Refused with a reason: a withdrawn store, a second open
    request, the same account again, or fields a bank would not accept."""
    if store.state in (store_wf.S.withdrawn, store_wf.S.rejected):
        raise Conflict("登録が取り消された店舗の口座は変更できません。", code="STORE_NOT_ACTIVE")
    values = validate(form)
    if all(getattr(store, key) == values[key] for key in FIELDS):
        raise Invalid("現在登録されている口座と同じです。変更する内容を入力してください。")
    if open_request(db, store.id) is not None:
        raise Conflict(
            "承認待ちの変更申請があります。取り下げてから、あらためて申請してください。",
            code="REQUEST_OPEN",
        )
    note = normalize.text(form.get("note", ""), max_length=500, what="連絡事項")
    req = BankChangeRequest(
        store_id=store.id,
        previous_account=describe(store)[:200],
        note=note,
        state=store_wf.B.requested,
        requested_by=actor,
        requested_at=clock.now(),
        decision_reason="",
        **values,
    )
    db.add(req)
    try:
        with db.begin_nested():  # the partial unique index settles a race between two tabs
            db.flush()
    except IntegrityError:
        raise Conflict("承認待ちの変更申請があります。", code="REQUEST_OPEN") from None
    _tell_store(db, clock, store, req, settings, "bank_requested.txt.jinja2")
    return req


def withdraw(db: Session, clock, req: BankChangeRequest, *, actor: str) -> None:
    fire(
        db,
        store_wf.BANK_CHANGE,
        req,
        "withdraw",
        actor=actor,
        now=clock.now(),
        reason="店舗が取下げ",
    )
    req.decided_by, req.decided_at = actor, clock.now()
    db.flush()


def _reason(reason: str, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(f"{what}の理由(確認した内容)を入力してください。")
    return reason[:500]


def approve(
    db: Session, clock, settings: Settings, req: BankChangeRequest, *, actor: str, reason: str
) -> list[str]:
    """The secretariat approves after calling the store: the account changes now, in the store's
    history, and in any draft batch not yet submitted. Returns notes for the approver (a batch
    already submitted keeps the account it was approved with)."""
    reason = _reason(reason, "承認")
    now = clock.now()
    store = db.get(Store, req.store_id)
    if store.state in (store_wf.S.withdrawn, store_wf.S.rejected):
        raise Conflict("登録が取り消された店舗の口座は変更できません。", code="STORE_NOT_ACTIVE")
    fire(db, store_wf.BANK_CHANGE, req, "approve", actor=actor, now=now, reason=reason)
    req.decided_by, req.decided_at, req.decision_reason = actor, now, reason
    before = describe(store)
    for key in FIELDS:
        setattr(store, key, getattr(req, key))
    store.updated_at = now
    registration.record(
        db,
        store,
        "bank_change",
        actor=actor,
        reason=f"振込先変更(申請 No.{req.id}): {before} → {describe(req)} / {reason}",
        now=now,
    )
    notes = []
    drafts = db.execute(
        update(PayoutLine)
        .where(
            PayoutLine.store_id == store.id,
            PayoutLine.status == payout_wf.L.included,
            PayoutLine.batch_id.in_(
                select(PayoutBatch.id).where(PayoutBatch.state == payout_wf.S.draft)
            ),
        )
        .values(
            bank_code=req.bank_code,
            branch_code=req.branch_code,
            account_type=req.account_type,
            account_number=req.account_number.rjust(7, "0"),
            account_holder_kana=req.account_holder_kana,
        )
        .execution_options(synchronize_session=False)
    )
    if drafts.rowcount:
        notes.append("作成中の支払バッチの振込先も新しい口座にしました。")
    frozen = db.scalars(
        select(PayoutBatch.id)
        .join(PayoutLine, PayoutLine.batch_id == PayoutBatch.id)
        .where(
            PayoutLine.store_id == store.id,
            PayoutLine.status == payout_wf.L.included,
            PayoutBatch.state.in_(
                (payout_wf.S.submitted, payout_wf.S.approved, payout_wf.S.exported)
            ),
        )
    ).all()
    notes += [
        f"支払バッチ No.{batch_id} は申請済みのため、変更前の口座で振り込まれます"
        "(口座が使えない場合は振込不能として次回のバッチに回ります)。"
        for batch_id in frozen
    ]
    _tell_store(db, clock, store, req, settings, "bank_decided.txt.jinja2")
    db.flush()
    return notes


def reject(
    db: Session, clock, settings: Settings, req: BankChangeRequest, *, actor: str, reason: str
) -> None:
    reason = _reason(reason, "不承認")
    now = clock.now()
    fire(db, store_wf.BANK_CHANGE, req, "reject", actor=actor, now=now, reason=reason)
    req.decided_by, req.decided_at, req.decision_reason = actor, now, reason
    _tell_store(db, clock, db.get(Store, req.store_id), req, settings, "bank_decided.txt.jinja2")
    db.flush()
