"""A store's own QR code (P-5, S-2): the URL it carries and its image.

The code carries `{kariya.public_url}/s/{token}`, where the token is the store's random, revocable
`qr_token` (issued on activation, replaced by `stores.reissue`). Error correction H (about 30% of
the code may be lost: a worn or scratched sticker still reads) and the standard quiet zone of 4
modules around it.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

import qrcode
from qrcode.constants import ERROR_CORRECT_H
from qrcode.image.pil import PilImage
from sqlalchemy import select
from sqlalchemy.orm import Session

from kariya.errors import Conflict
from kariya.settings import Settings, settings_of
from kariya.stores.models import Store

QUIET_ZONE = 4  # modules of white around the code (ISO/IEC 18004 minimum)
MAX_TOKEN_LENGTH = 64  # the column's size: longer is never a token of ours


def url_for_token(settings: Settings | Mapping, token: str) -> str:
    # An ini mapping is read too: kariya.materials passes its dict (until it reads the fields).
    return f"{settings_of(settings).public_url.rstrip('/')}/s/{token}"


def store_url(settings: Settings | Mapping, store: Store) -> str:
    """The URL in the store's QR code; a store that was never activated has none."""
    if not store.qr_token:
        raise Conflict(
            f"店舗「{store.name}」のQRコードはまだ発行されていません(利用開始後に発行されます)。",
            code="NO_QR",
        )
    return url_for_token(settings, store.qr_token)


def _code(data: str) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_H, border=QUIET_ZONE, box_size=1)
    code.add_data(data)
    code.make(fit=True)
    return code


def matrix(data: str) -> list[list[bool]]:
    """The code's modules, quiet zone included, top row first (True = dark)."""
    return _code(data).get_matrix()


def png(data: str, box_size: int = 20) -> bytes:
    """The code as a black-on-white PNG, `box_size` pixels per module (20: about 1,000 pixels
    square for a store URL, enough to print at 8 cm and more)."""
    code = _code(data)
    code.box_size = box_size
    buffer = io.BytesIO()
    code.make_image(image_factory=PilImage, fill_color="black", back_color="white").save(
        buffer, format="PNG"
    )
    return buffer.getvalue()


def store_png(settings: Settings | Mapping, store: Store, box_size: int = 20) -> bytes:
    return png(store_url(settings, store), box_size=box_size)


def find_by_token(db: Session, token: str | None) -> Store | None:
    """The store whose current QR token is `token`, whatever its state; None for an unknown,
    empty or replaced token (the caller decides what an inactive store may do)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return db.scalar(select(Store).where(Store.qr_token == token))
