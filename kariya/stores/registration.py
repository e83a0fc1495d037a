"""Stores: creation and the registration workflow (S-1); the QR token is issued on activation."""

from __future__ import annotations

import secrets

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from kariya.errors import Conflict, Invalid
from kariya.stores.finder import store_search_text
from kariya.stores.models import Store
from workflows import binding
from workflows import store as store_wf
from workflows.binding import fire, sources


def new_qr_token() -> str:
    return secrets.token_urlsafe(24)


def create(db: Session, clock, **fields) -> Store:
    now = clock.now()
    store = Store(state=store_wf.S.applied, created_at=now, updated_at=now, **fields)
    store.search_text = store_search_text(store)
    db.add(store)
    db.flush()
    return store


def transition(
    db: Session, clock, store: Store, event: str, *, actor: str, reason: str = ""
) -> str:
    now = clock.now()
    state = fire(db, store_wf.MACHINE, store, event, actor=actor, now=now, reason=reason)
    if event == "activate" and not store.qr_token:
        store.qr_token = new_qr_token()
    store.updated_at = now
    db.flush()
    return state


# The registration path to active, in order (import --activate, demo).
STEPS_TO_ACTIVE = ("review", "approve", "activate")


def activate_all_the_way(db: Session, clock, store: Store, *, actor: str) -> bool:
    """Take a store still on its way (applied, under review, approved) through the remaining
    steps to active, its QR issued: each step whose source, in the store machine, is where the
    store stands. False, and nothing done, for any other state: an import never undoes a
    suspension, a withdrawal or a rejection the secretariat decided."""
    start = next(
        (i for i, e in enumerate(STEPS_TO_ACTIVE) if store.state in sources(store_wf.MACHINE, e)),
        None,
    )
    if start is None:
        return False
    for event in STEPS_TO_ACTIVE[start:]:
        transition(db, clock, store, event, actor=actor, reason="一括登録")
    return True


def reissue(db: Session, clock, store: Store, actor: str, reason: str) -> str:
    """Replace the store's QR token (a worn sticker, a leaked or misused code): the old code then
    answers "no longer valid". Recorded in the store's history like a transition whose state does
    not change. Returns the new token."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("QRコードを再発行する理由を入力してください。")
    if not store.qr_token:
        raise Conflict(
            f"店舗「{store.name}」のQRコードはまだ発行されていません(利用開始後に発行されます)。",
            code="NO_QR",
        )
    if store.state in (store_wf.S.withdrawn, store_wf.S.rejected):
        raise Conflict(
            f"店舗「{store.name}」は登録取消または不承認のため、QRコードを再発行できません。",
            code="STORE_NOT_ACTIVE",
        )
    now = clock.now()
    old, new = store.qr_token, new_qr_token()
    # Compare-and-set on the old token: of two simultaneous reissues, one is refused.
    result = db.execute(
        update(Store)
        .where(Store.id == store.id, Store.qr_token == old)
        .values(qr_token=new, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict("他の操作でQRコードが変更されました。画面を開き直してください。")
    set_committed_value(store, "qr_token", new)
    set_committed_value(store, "updated_at", now)
    record(db, store, "reissue_qr", actor=actor, reason=reason, now=now)
    return new


def record(db: Session, store: Store, event: str, *, actor: str, reason: str, now) -> None:
    """Write an event to the store's history that does not change its state (a QR reissue, a
    bank account change)."""
    binding.record(
        db,
        store_wf.MACHINE,
        [binding.Move(store.id, event, store.state, store.state, reason)],
        actor=actor,
        now=now,
    )
