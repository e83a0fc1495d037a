"""The store's QR code (P-5, S-2): its URL, its image read back by a real decoder, and the
token's reissue (the old code stops working, the store's history shows it)."""

import cv2
import numpy as np
import pytest
from sqlalchemy import select

from kariya.clock import FixedClock
from kariya.errors import Conflict, Invalid
from kariya.models import Store, TransitionRecord
from kariya.stores import qr, registration
from tests.helpers import ROUND1, make_store

SETTINGS = {"kariya.public_url": "https://coupon.example.jp/"}


def decode(image: np.ndarray) -> str:
    """OpenCV's decoders: the ArUco-based one first (the classic one misses a few percent of
    valid codes, whatever their size), then the classic one."""
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    for detector in (cv2.QRCodeDetectorAruco(), cv2.QRCodeDetector()):
        text = detector.detectAndDecode(image)[0]
        if text:
            return text
    return ""


def png_image(data: bytes) -> np.ndarray:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)


def test_url_is_public_url_slash_s_slash_token():
    """P-5: the code carries {kariya.public_url}/s/{token} (no doubled slash)."""
    assert qr.url_for_token(SETTINGS, "tok") == "https://coupon.example.jp/s/tok"
    assert (
        qr.url_for_token({"kariya.public_url": "http://localhost:6543"}, "abc")
        == "http://localhost:6543/s/abc"
    )


def test_png_decodes_to_the_store_url(db):
    """S-2: the PNG of an activated store's QR, read by a real decoder, gives its URL."""
    store = make_store(db)
    assert store.qr_token and len(store.qr_token) >= 32
    url = qr.store_url(SETTINGS, store)
    assert decode(png_image(qr.store_png(SETTINGS, store))) == url
    assert url == f"https://coupon.example.jp/s/{store.qr_token}"


def test_quiet_zone_is_four_modules():
    """S-2: 4 white modules around the code, in the matrix and in the picture."""
    url = "https://coupon.example.jp/s/" + "x" * 32
    modules = qr.matrix(url)
    n = len(modules)
    for i in range(4):
        assert not any(modules[i]) and not any(modules[n - 1 - i])
        assert not any(row[i] or row[n - 1 - i] for row in modules)
    assert any(modules[4]) and any(row[4] for row in modules)  # the code starts right there
    image = png_image(qr.png(url, box_size=10))
    assert image.shape == (n * 10, n * 10)
    assert image[:40, :].min() == 255 and image[:, :40].min() == 255
    assert image[40:50, 40:50].max() == 0  # the finder pattern's dark corner


def test_worn_code_still_reads():
    """S-2: error correction H: with a fifth of the code's width scratched out of its middle,
    the code still reads (with level L it would not)."""
    url = "https://coupon.example.jp/s/AbCdEf_-AbCdEf_-AbCdEf_-AbCdEf_-"
    image = png_image(qr.png(url, box_size=10))
    side = image.shape[1]
    hole, middle = side // 5, side // 2
    image[middle - hole // 2 : middle + hole // 2, middle - hole // 2 : middle + hole // 2] = 255
    assert decode(image) == url


def test_store_without_a_token_has_no_url(db):
    """A store not yet activated has no QR code: a clear Japanese refusal."""
    store = make_store(db, active=False)
    with pytest.raises(Conflict) as info:
        qr.store_url(SETTINGS, store)
    assert "まだ発行されていません" in info.value.message


def test_find_by_token(db):
    """The using flow's lookup: the store for its current token, None for anything else."""
    store = make_store(db)
    assert qr.find_by_token(db, store.qr_token).id == store.id
    for token in (None, "", "nope", store.qr_token[:-1], "x" * 500):
        assert qr.find_by_token(db, token) is None


def test_reissue_revokes_the_old_token_and_records_it(db):
    """S-2, I-10: a reissued QR makes the old code unknown and the new one found; the store's
    history records who, when and why, with its state unchanged."""
    store = make_store(db)
    other = make_store(db, code="S0002", name="別の店")
    old = store.qr_token
    new = registration.reissue(
        db, FixedClock(ROUND1), store, actor="staff:jimukyoku", reason="ステッカー破損"
    )
    db.commit()
    assert new != old and len(new) >= 32
    db.expire_all()
    assert qr.find_by_token(db, old) is None
    assert qr.find_by_token(db, new).id == store.id
    assert qr.find_by_token(db, other.qr_token).id == other.id  # others untouched
    assert db.get(Store, store.id).state == "active"
    record = db.scalar(
        select(TransitionRecord).where(
            TransitionRecord.machine == "store",
            TransitionRecord.entity_id == store.id,
            TransitionRecord.event == "reissue_qr",
        )
    )
    assert (record.from_state, record.to_state) == ("active", "active")
    assert (record.actor, record.reason, record.at) == ("staff:jimukyoku", "ステッカー破損", ROUND1)


def test_reissue_needs_a_reason_and_a_token(db):
    """Bad input changes nothing: no reason, or a store without a QR yet."""
    store = make_store(db)
    old = store.qr_token
    with pytest.raises(Invalid):
        registration.reissue(db, FixedClock(ROUND1), store, actor="staff:x", reason="  ")
    assert store.qr_token == old
    pending = make_store(db, code="S0009", active=False)
    with pytest.raises(Conflict):
        registration.reissue(db, FixedClock(ROUND1), pending, actor="staff:x", reason="test")
    db.rollback()
    assert db.scalar(select(TransitionRecord).where(TransitionRecord.event == "reissue_qr")) is None
