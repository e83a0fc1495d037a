"""Keeping an upload between two steps of a flow (the store list's preview and confirmation), in
the database (`UploadedFile`), so that web processes on different hosts agree.

An upload is found by its random token, and only by the staff member who uploaded it, for the
flow it was uploaded for; after `UPLOAD_TTL` it is gone, and it is removed for good the next time
anyone uploads a file."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kariya.errors import NotFound
from kariya.stores.importer.models import UploadedFile

UPLOAD_TTL = dt.timedelta(hours=12)
UPLOAD_GONE = "取り込むファイルが見つかりません(有効期限切れか、取り込み済みです)。もう一度アップロードしてください。"


def gone() -> NotFound:
    """The refusal of an upload that is not (or no longer) there."""
    return NotFound(UPLOAD_GONE, code="UPLOAD_NOT_FOUND")


def keep(
    db: Session, clock, data: bytes, *, purpose: str, uploaded_by: str, filename: str = ""
) -> UploadedFile:
    """Keep `data` under a new random token (in the caller's transaction); uploads older than
    `UPLOAD_TTL`, anyone's, are removed on the way."""
    now = clock.now()
    db.execute(delete(UploadedFile).where(UploadedFile.uploaded_at < now - UPLOAD_TTL))
    upload = UploadedFile(
        token=secrets.token_urlsafe(32),
        purpose=purpose,
        uploaded_by=uploaded_by,
        uploaded_at=now,
        filename=filename[:200],
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        content=data,
    )
    db.add(upload)
    db.flush()
    return upload


def get(db: Session, clock, token: str, *, purpose: str, uploaded_by: str) -> UploadedFile:
    """The upload of `token`, if `uploaded_by` uploaded it for `purpose` less than `UPLOAD_TTL`
    ago; NotFound (UPLOAD_NOT_FOUND, Japanese) otherwise: someone else's upload is as absent as
    a vanished one."""
    if not token or not isinstance(token, str):
        raise gone()
    upload = db.scalar(
        select(UploadedFile).where(
            UploadedFile.token == token,
            UploadedFile.purpose == purpose,
            UploadedFile.uploaded_by == uploaded_by,
        )
    )
    if upload is None or upload.uploaded_at < clock.now() - UPLOAD_TTL:
        raise gone()
    return upload


def discard(db: Session, token: str, *, uploaded_by: str) -> None:
    """Remove an upload of `uploaded_by` (nothing if there is none)."""
    if token and isinstance(token, str):
        db.execute(
            delete(UploadedFile).where(
                UploadedFile.token == token, UploadedFile.uploaded_by == uploaded_by
            )
        )
