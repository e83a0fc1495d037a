"""Finding stores: one store by its code (or NotFound), the active stores. The queries every domain and view
shares, written once (a store by its QR token is kariya.stores.qr.find_by_token)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from kariya.errors import NotFound
from kariya.stores.models import Store
from workflows import store as store_wf

# Only an active store takes coupons, is found by residents and hears the secretariat's notices.
ACTIVE = Store.state == store_wf.S.active


def by_code(db: Session, code: str, *, active: bool = False) -> Store | None:
    """The store with this code, or None; with `active`, None unless it is active."""
    query = select(Store).where(Store.code == code)
    if active:
        query = query.where(ACTIVE)
    return db.scalar(query)


def get(db: Session, code: str) -> Store:
    """The store with this code, or NotFound (STORE_NOT_FOUND) for the page or command."""
    store = by_code(db, code)
    if store is None:
        raise NotFound(f"店舗コード {code} の店舗は見つかりません。", code="STORE_NOT_FOUND")
    return store


def active(db: Session) -> list[Store]:
    """The active stores, by code."""
    return list(db.scalars(select(Store).where(ACTIVE).order_by(Store.code)))
