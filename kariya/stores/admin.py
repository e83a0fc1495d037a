"""The secretariat's view of the stores (S-1): every store in any state, its registration history,
and the registration steps taken by hand (each with a reason)."""

from __future__ import annotations

import math

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from kariya.errors import DomainError, Invalid
from kariya.stores import lookup, registration
from kariya.stores.finder import search_key
from kariya.stores.importer.applying import HISTORY_LABELS
from kariya.stores.models import Store
from workflows import store as store_wf
from workflows.binding import TransitionRecord, label, sources

PER_PAGE = 50
MAX_REASON = 500
# Steps that take a store out of use, or refuse it: shown as such on the screen.
DANGEROUS = frozenset({"reject", "suspend", "withdraw"})


def state_label(state: str) -> str:
    return label(store_wf.MACHINE, state)


def event_label(event: str) -> str:
    return store_wf.MACHINE.kariya_labels.get(f"event:{event}") or HISTORY_LABELS.get(event, event)


def states() -> list[tuple[str, str]]:
    return [(s, state_label(s)) for s in store_wf.STATES]


def events_from(state: str) -> list[str]:
    """The machine's events that may be fired from `state`, in the machine's order."""
    return [e for e in store_wf.MACHINE.events if state in sources(store_wf.MACHINE, e)]


def search(db: Session, q: str = "", state: str = "", page: int = 1) -> dict:
    """Stores in any state, by code, name, kana, category or address, newest code last."""
    conditions = []
    key = search_key(q)[:100]
    if key:
        escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(
            or_(
                Store.search_text.like(f"%{escaped}%", escape="\\"),
                func.upper(Store.code).like(f"%{escaped.upper()}%", escape="\\"),
            )
        )
    if state in store_wf.STATES:
        conditions.append(Store.state == state)
    total = db.scalar(select(func.count()).select_from(Store).where(*conditions))
    pages = max(1, math.ceil(total / PER_PAGE))
    page = min(max(1, page), pages)
    found = db.scalars(
        select(Store)
        .where(*conditions)
        .order_by(Store.code)
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    by_state = dict(db.execute(select(Store.state, func.count()).group_by(Store.state)).all())
    return {
        "stores": found,
        "total": total,
        "page": page,
        "pages": pages,
        "by_state": {s: by_state.get(s, 0) for s in store_wf.STATES},
    }


def history(db: Session, store: Store) -> list[TransitionRecord]:
    """The store's registration history, oldest first (transitions, imports, QR reissues)."""
    return list(
        db.scalars(
            select(TransitionRecord)
            .where(
                TransitionRecord.machine == store_wf.MACHINE.kariya_name,
                TransitionRecord.entity_id == store.id,
            )
            .order_by(TransitionRecord.at, TransitionRecord.id)
        )
    )


def transition(db: Session, clock, store: Store, event: str, *, actor: str, reason: str) -> str:
    """A registration step taken by the secretariat: a known event and a reason are required;
    the machine refuses what its state does not allow (IllegalTransition, Japanese)."""
    if event not in store_wf.MACHINE.events:
        raise Invalid("この操作はできません。", code="UNKNOWN_EVENT")
    reason = " ".join((reason or "").split())
    if not reason:
        raise Invalid(f"「{event_label(event)}」の理由を入力してください。", code="REASON_REQUIRED")
    if len(reason) > MAX_REASON:
        raise Invalid(f"理由は{MAX_REASON}文字以内で入力してください。", code="REASON_TOO_LONG")
    try:
        return registration.transition(db, clock, store, event, actor=actor, reason=reason)
    except DomainError:
        db.expire(store)  # the state as stored, not as attempted
        raise


def take_step(db: Session, clock, code: str, event: str, *, actor: str, reason: str) -> str:
    """The registration step `event` taken on the store `code` by the secretariat (see
    `transition`); returns what the secretariat is told."""
    store = lookup.get(db, code)
    state = transition(db, clock, store, event, actor=actor, reason=reason)
    message = f"店舗「{store.name}」を「{state_label(state)}」にしました。"
    if event == "activate":
        message += "QRコードを発行しました。掲示物をダウンロードしてお届けください。"
    return message


def detail(db: Session, code: str) -> dict:
    """A store's page: the store, its history, the steps its state allows."""
    store = lookup.get(db, code)
    return {"store": store, "history": history(db, store), "events": events_from(store.state)}
