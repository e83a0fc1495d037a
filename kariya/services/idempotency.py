"""Idempotency-Key: the first response to (person, key) is stored in the same transaction as the
effect, and replayed to retries; the same key with a different request is refused."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from kariya.errors import Conflict, Invalid
from kariya.models import IdempotencyRecord

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
    if row.request_hash != digest:
        raise Conflict(
            "同じ Idempotency-Key で異なる内容が送られました。", code="IDEMPOTENCY_MISMATCH"
        )
    return row.status, json.loads(row.body)


def remember(
    db: Session, clock, person_id: int, key: str, digest: str, status: int, body: dict
) -> None:
    db.add(
        IdempotencyRecord(
            person_id=person_id,
            key=key,
            request_hash=digest,
            status=status,
            body=json.dumps(body, ensure_ascii=False),
            created_at=clock.now(),
        )
    )
    db.flush()


def run(
    db: Session,
    clock,
    person_id: int,
    key: str | None,
    digest: str,
    action,
    *,
    status: int,
    race: tuple = (),
) -> tuple[int, dict]:
    """Run `action()` once per (person, key); a retry gets the first (status, body) back.

    `race` names the errors a concurrent first attempt with the same key causes (for example
    ALREADY_ACQUIRED): then the stored response of the winner, committed by now, is replayed.
    """
    if key is None:
        return status, action()
    stored = replay(db, person_id, key, digest)
    if stored is not None:
        return stored
    try:
        body = action()
    except race:
        stored = replay(db, person_id, key, digest)
        if stored is not None:
            return stored
        raise
    remember(db, clock, person_id, key, digest, status, body)
    return status, body
