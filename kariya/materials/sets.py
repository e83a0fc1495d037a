"""One store's set of materials (its QR image, sticker, poster, flyer and the manual) as a ZIP,
and every active store's sets in one ZIP with an index (the bulk build)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import zipfile
from collections.abc import Callable
from typing import IO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kariya.clock import utcnow
from kariya.errors import Conflict
from kariya.formats import spreadsheets
from kariya.materials import context
from kariya.materials.context import PrintContext
from kariya.materials.manual import manual_pdf
from kariya.materials.pieces import flyer_pdf, poster_pdf, sticker_pdf
from kariya.stores import lookup, qr
from kariya.stores.models import Store
from workflows import store as store_wf

Progress = Callable[[int, int], None]

PIECES = ("qr.png", "sticker.pdf", "poster_A3.pdf", "flyer_A4.pdf", "manual.pdf")


def store_files(
    store: Store, settings: dict, ctx: PrintContext, manual: bytes
) -> list[tuple[str, bytes]]:
    """One store's set: file name (under a folder named by its code) and content."""
    url = qr.store_url(settings, store)
    prefix = f"{store.code}/{store.code}_"
    return [
        (prefix + "qr.png", qr.png(url)),
        (prefix + "sticker.pdf", sticker_pdf(store, url, ctx)),
        (prefix + "poster_A3.pdf", poster_pdf(store, url, ctx)),
        (prefix + "flyer_A4.pdf", flyer_pdf(store, url, ctx)),
        (prefix + "manual.pdf", manual),
    ]


def _check_printable(store: Store) -> None:
    if store.state != store_wf.S.active:
        raise Conflict(
            f"店舗「{store.name}」は利用可能な状態ではないため、掲示物を作成できません。",
            code="STORE_NOT_ACTIVE",
        )
    if not store.qr_token:
        raise Conflict(f"店舗「{store.name}」のQRコードはまだ発行されていません。", code="NO_QR")


def _write(archive: zipfile.ZipFile, name: str, data: bytes, when: dt.datetime) -> None:
    info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
    # PDFs and PNGs are compressed already; deflate only the text files.
    info.compress_type = (
        zipfile.ZIP_STORED if name.endswith((".pdf", ".png")) else zipfile.ZIP_DEFLATED
    )
    archive.writestr(info, data)


def _local_now(ctx: PrintContext, now: dt.datetime | None) -> dt.datetime:
    """The time the files are stamped with, in the campaign's zone (ZIP times have none)."""
    return ctx.rules.local(now or utcnow())


def zip_name(store: Store) -> str:
    """A download name safe in any header and file system."""
    return "materials_" + re.sub(r"[^A-Za-z0-9_-]", "_", store.code) + ".zip"


def store_zip(db: Session, settings: dict, store: Store, now: dt.datetime | None = None) -> bytes:
    """One store's set of materials as a ZIP."""
    _check_printable(store)
    ctx = context.current(db, settings)
    when = _local_now(ctx, now)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in store_files(store, settings, ctx, manual_pdf(ctx)):
            _write(archive, name, data, when)
    return buffer.getvalue()


def active_stores(db: Session) -> list[Store]:
    return list(
        db.scalars(
            select(Store).where(lookup.ACTIVE, Store.qr_token.is_not(None)).order_by(Store.code)
        )
    )


def count_active(db: Session) -> int:
    return db.scalar(select(func.count()).where(lookup.ACTIVE, Store.qr_token.is_not(None)))


def build_all(
    db: Session,
    settings: dict,
    path: str | os.PathLike | IO[bytes],
    progress: Progress | None = None,
    now: dt.datetime | None = None,
    ctx: PrintContext | None = None,
) -> int:
    """Every active store's set into one ZIP at `path`, a file name or a file object (a folder
    per store code, the manual in each, and index.csv listing the stores); calls
    `progress(done, total)` as it goes. Returns the number of stores. `ctx`: the facts and the
    manual to print (by default the current ones)."""
    ctx = ctx if ctx is not None else context.current(db, settings)
    when = _local_now(ctx, now)
    stores = active_stores(db)
    total = len(stores)
    if progress:
        progress(0, total)
    manual = manual_pdf(ctx)  # the same approved text for every store: built once
    index = io.StringIO()
    writer = csv.writer(index, lineterminator="\r\n")
    writer.writerow(["店舗コード", "店舗名", "業種", "住所", *PIECES])
    with zipfile.ZipFile(path, "w") as archive:
        for done, store in enumerate(stores, start=1):
            files = store_files(store, settings, ctx, manual)
            for name, data in files:
                _write(archive, name, data, when)
            writer.writerow(  # the one cell rule: a name starting with "=" stays text
                spreadsheets.csv_row(
                    [store.code, store.name, store.category, store.address]
                    + [name.split("/", 1)[1] for name, _ in files]
                )
            )
            if progress:
                progress(done, total)
        # A BOM so that Excel opens the Japanese list correctly.
        _write(archive, "index.csv", ("\ufeff" + index.getvalue()).encode("utf-8"), when)
    return total
