"""Stores: creation and the registration workflow (S-1); the QR token is issued on activation."""

from __future__ import annotations

import secrets

from sqlalchemy.orm import Session

from kariya.models import Store
from kariya.services.store_finder import store_search_text
from workflows import store as store_wf
from workflows.binding import fire


def new_qr_token() -> str:
    return secrets.token_urlsafe(24)


def create(db: Session, clock, **fields) -> Store:
    now = clock.now()
    store = Store(state="applied", created_at=now, updated_at=now, **fields)
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


def activate_all_the_way(db: Session, clock, store: Store, *, actor: str) -> None:
    """Take a newly applied store through review and approval to active (import --activate, demo)."""
    for event in ("review", "approve", "activate"):
        transition(db, clock, store, event, actor=actor, reason="一括登録")
