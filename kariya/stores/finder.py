"""Finding stores where coupons work (S-1): by name in kanji, hiragana, katakana or half-width
kana alike, by category and area; active stores only."""

from __future__ import annotations

import math

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kariya.stores import lookup, normalize
from kariya.stores.models import Store

PER_PAGE = 20


def search_key(text: str) -> str:
    """What a search compares: the text folded (kariya.stores.normalize.fold), in lower case."""
    return normalize.fold(text).lower()


def store_search_text(store: Store) -> str:
    return search_key(
        " ".join(filter(None, [store.name, store.kana, store.category, store.address]))
    )


def store_json(store: Store) -> dict:
    return {
        "code": store.code,
        "name": store.name,
        "kana": store.kana,
        "category": store.category,
        "area": store.area,
        "address": store.address,
        "phone": store.phone,
        "hours": store.hours,
    }


def search(db: Session, q: str = "", category: str = "", area: str = "", page: int = 1) -> dict:
    conditions = [lookup.ACTIVE]
    key = search_key(q)[:100]
    if key:
        escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(Store.search_text.like(f"%{escaped}%", escape="\\"))
    if category:
        conditions.append(Store.category == category)
    if area:
        conditions.append(Store.area == area)
    total = db.scalar(select(func.count()).select_from(Store).where(*conditions))
    pages = max(1, math.ceil(total / PER_PAGE))
    page = min(max(1, page), pages)
    stores = db.scalars(
        select(Store)
        .where(*conditions)
        .order_by(Store.kana, Store.code)
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    return {"stores": [store_json(s) for s in stores], "total": total, "page": page, "pages": pages}


def categories(db: Session) -> list[str]:
    return list(
        db.scalars(select(Store.category).where(lookup.ACTIVE).distinct().order_by(Store.category))
    )
