"""Idempotency-Key: the first response to (person, key) is stored in the same transaction as the
effect, and replayed to retries; the same key with a different request is refused."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kariya.errors import Conflict, Invalid
from kariya.orm import insert_or_skip
from kariya.residents.models import IdempotencyRecord

MAX_KEY = 100


def request_hash(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


def check_key(key: str | None) -> str | None:
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY:
        raise Invalid("Idempotency-Key は1〜100文字で指定してください。", code="INVALID")
    return key


def replay(db: Session, person_id: int, key: str, digest: str) -> tuple[int, dict] | None:
    row = db.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.person_id == person_id, IdempotencyRecord.key == key
        )
    )
    if row is None:
        return None
    if not row.status:  # claimed by a request still running (not visible once committed)
        return None
    if row.request_hash != digest:
        raise Conflict(
            "同じ Idempotency-Key で異なる内容が送られました。", code="IDEMPOTENCY_MISMATCH"
        )
    return row.status, json.loads(row.body)


def run(
    db: Session, clock, person_id: int, key: str | None, digest: str, action, *, status: int
) -> tuple[int, dict]:
    """Run `action()` once per (person, key); a retry gets the first (status, body) back.

    The key is claimed first with a unique insert (one statement for a first request, the
    common case): a retry after the first committed finds the key taken and replays the stored
    answer; a concurrent request with the same key waits on it (PostgreSQL) until the first
    commits, then does the same; if the first failed, its claim rolled back with it and this
    one runs.
    """
    if key is None:
        return status, action()
    # Core statements on the table: the ORM's bulk machinery would cost more than they do.
    records = IdempotencyRecord.__table__
    claimed = db.scalar(
        insert_or_skip(db, records, on=["person_id", "key"])
        .values(
            person_id=person_id,
            key=key,
            request_hash=digest,
            status=0,
            body="",
            created_at=clock.now(),
        )
        .returning(records.c.id)
    )
    if claimed is None:
        stored = replay(db, person_id, key, digest)
        if stored is not None and stored[0]:
            return stored
        raise Conflict("同じ操作を処理中です。少し待ってからお試しください。", code="IN_PROGRESS")
    body = action()
    db.execute(
        update(records)
        .where(records.c.id == claimed)
        .values(status=status, body=json.dumps(body, ensure_ascii=False))
    )
    return status, body
