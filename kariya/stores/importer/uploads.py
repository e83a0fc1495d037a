"""Keeping an upload between the preview and the confirmation."""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import tempfile
import time
from pathlib import Path

from kariya.errors import NotFound
from kariya.settings import PROJECT_ROOT
from kariya.stores.importer.reading import read

UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
UPLOAD_TTL = dt.timedelta(hours=12)


def upload_dir(settings: dict) -> Path:
    """Where uploads wait for their confirmation (`kariya.store_import_dir`, default var/)."""
    path = Path(settings.get("kariya.store_import_dir") or PROJECT_ROOT / "var" / "store_imports")
    if not path.is_absolute():
        path = PROJECT_ROOT / path
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _upload_path(settings: dict, upload_id: str) -> Path:
    if not UPLOAD_ID.match(upload_id or ""):
        raise NotFound(UPLOAD_GONE, code="UPLOAD_NOT_FOUND")
    return upload_dir(settings) / f"{upload_id}.xlsx"


UPLOAD_GONE = "取り込むファイルが見つかりません(有効期限切れか、取り込み済みです)。もう一度アップロードしてください。"


def keep_upload(settings: dict, data: bytes) -> str:
    """Keep an uploaded file on the server under a random id; returns the id."""
    directory = upload_dir(settings)
    cutoff = time.time() - UPLOAD_TTL.total_seconds()
    for old in directory.glob("*.xlsx"):
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink(missing_ok=True)
        except OSError:
            continue
    upload_id = secrets.token_hex(16)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".upload-", suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, directory / f"{upload_id}.xlsx")
    return upload_id


def read_upload(settings: dict, upload_id: str) -> bytes:
    path = _upload_path(settings, upload_id)
    try:
        if time.time() - path.stat().st_mtime > UPLOAD_TTL.total_seconds():
            raise FileNotFoundError
        return path.read_bytes()
    except FileNotFoundError:
        raise NotFound(UPLOAD_GONE, code="UPLOAD_NOT_FOUND") from None


def discard_upload(settings: dict, upload_id: str) -> None:
    if UPLOAD_ID.match(upload_id or ""):
        _upload_path(settings, upload_id).unlink(missing_ok=True)


def receive(settings: dict, data: bytes) -> str:
    """An uploaded file: refuse it now if it cannot be read at all (ImportRefused), else keep it
    until the secretariat confirms the preview; returns the upload's id."""
    read(data)
    return keep_upload(settings, data)
