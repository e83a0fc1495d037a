"""Finding stores where coupons work (S-1): by name in kanji, hiragana, katakana or half-width
kana alike, by category and area; active stores only."""

from __future__ import annotations

import math
import unicodedata

import jaconv
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kariya.models import Store
from workflows import store as store_wf

PER_PAGE = 20


def search_key(text: str) -> str:
    """Fold the ways people type Japanese into one: NFKC (half-width kana to full-width,
    full-width ASCII to half-width), hiragana to katakana, lower case, no spaces."""
    folded = jaconv.hira2kata(unicodedata.normalize("NFKC", text or ""))
    return "".join(folded.lower().split())


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
    conditions = [Store.state == store_wf.S.active]
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
        db.scalars(
            select(Store.category)
            .where(Store.state == store_wf.S.active)
            .distinct()
            .order_by(Store.category)
        )
    )
