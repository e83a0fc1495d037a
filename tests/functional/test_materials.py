"""Printed materials (S-2, S-3, I-8, P-5): each store's sticker, A3 poster, A4 flyer and manual,
read back as a person would (page sizes, the text on them, the QR decoded from the rendered
page); the bulk build and its progress; who may download what; `kariya store-qr`."""

import datetime as dt
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pypdfium2 as pdfium
import pytest
from sqlalchemy import func, select

from kariya.campaign import definition, excluded_items
from kariya.clock import FixedClock
from kariya.errors import Conflict
from kariya.materials import context, jobs, sets
from kariya.materials.manual import manual_pdf
from kariya.materials.pieces import flyer_pdf, poster_pdf
from kariya.models import MaterialJob, MaterialJobChunk, Store, TransitionRecord
from kariya.stores import qr
from tests.conftest import DATABASE_URL
from tests.helpers import ROUND1, campaign_toml, load_campaign, login_staff, make_store, make_user

A3 = (841.89, 1190.55)
A4 = (595.28, 841.89)
STICKER = (255.12, 255.12)  # 90 x 90 mm
PIECES = ["qr.png", "sticker.pdf", "poster_A3.pdf", "flyer_A4.pdf", "manual.pdf"]


@pytest.fixture
def app_settings(registry):
    return registry.settings


def decode(image: np.ndarray) -> str:
    """OpenCV's decoders: the ArUco-based one first (the classic one misses a few percent of
    valid codes, whatever their size), then the classic one."""
    for detector in (cv2.QRCodeDetectorAruco(), cv2.QRCodeDetector()):
        text = detector.detectAndDecode(image)[0]
        if text:
            return text
    return ""


def pdf_pages(data: bytes) -> list[dict]:
    """Each page's size in points, its text, and its picture (rendered like a printer would)."""
    pdf = pdfium.PdfDocument(data)
    pages = []
    try:
        for page in pdf:
            width, height = page.get_size()
            scale = 4 if width < 300 else 1.5  # about 300 pixels across the QR either way
            bitmap = page.render(scale=scale, grayscale=True).to_numpy()
            image = cv2.cvtColor(bitmap[..., 0] if bitmap.ndim == 3 else bitmap, cv2.COLOR_GRAY2BGR)
            pages.append(
                {
                    "size": (round(width, 2), round(height, 2)),
                    "text": page.get_textpage().get_text_range(),
                    "image": image,
                }
            )
            page.close()
    finally:
        pdf.close()
    return pages


def embeds_its_fonts(pdf: bytes) -> bool:
    """A print shop's check: the Japanese fonts are inside the file (a TrueType subset), none is
    left for the printer to substitute (`make test` installs Debian's IPA Gothic)."""
    return b"/FontFile2" in pdf and b"/HeiseiKakuGo" not in pdf and b"/HeiseiMin" not in pdf


def set_of(archive: zipfile.ZipFile, code: str) -> dict[str, bytes]:
    return {piece: archive.read(f"{code}/{code}_{piece}") for piece in PIECES}


def check_store_set(files: dict[str, bytes], store: Store, url: str) -> None:
    """One store's set, checked the way the print shop and a resident would."""
    qr_image = cv2.imdecode(np.frombuffer(files["qr.png"], np.uint8), cv2.IMREAD_COLOR)
    assert decode(qr_image) == url
    for piece, size in (("sticker.pdf", STICKER), ("poster_A3.pdf", A3), ("flyer_A4.pdf", A4)):
        (page,) = pdf_pages(files[piece])
        assert page["size"] == size, piece
        assert store.name in page["text"], piece  # real text, not a picture
        assert decode(page["image"]) == url, piece
    manual = pdf_pages(files["manual.pdf"])
    assert len(manual) >= 3 and {p["size"] for p in manual} == {A4}
    for piece in ("sticker.pdf", "poster_A3.pdf", "flyer_A4.pdf", "manual.pdf"):
        assert embeds_its_fonts(files[piece]), piece


@pytest.fixture
def campaign(db):
    return load_campaign(db)


def test_one_store_set_reads_back(db, app_settings, campaign):
    """S-2, P-5: sticker 90 mm, poster A3, flyer A4 each carry the store's name as text and its
    QR code, which a decoder reads from the rendered page as the store's URL."""
    store = make_store(db, name="刈谷ベーカリー 駅前通り店")
    data = sets.store_zip(db, app_settings, store)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == sorted(f"S0001/S0001_{p}" for p in PIECES)
        check_store_set(set_of(archive, "S0001"), store, qr.store_url(app_settings, store))


def test_long_store_name_still_fits_as_text(db, app_settings, campaign):
    """S-2: a long name is shrunk or wrapped, never cut off."""
    name = "有限会社かりや総合サービス 刈谷駅南口ショッピングセンター二階 生活雑貨とカフェの店"
    store = make_store(db, name=name)
    flyer = pdf_pages(
        flyer_pdf(store, qr.store_url(app_settings, store), context.current(db, app_settings))
    )[0]
    assert name in flyer["text"].replace("\r\n", "").replace("\n", "")


def test_numbers_come_from_the_campaign(db, app_settings):
    """S-2, I-5: the bills and limits printed are the campaign's, not constants in code."""
    spec = definition.parse(
        campaign_toml()
        .replace("min_bill = [1000, 2000]", "min_bill = [1500, 3200]")
        .replace("coupon_face = 500", "coupon_face = 700")
    )
    definition.load(db, FixedClock(ROUND1 - dt.timedelta(days=1)), spec, "test")
    db.commit()
    store = make_store(db)
    ctx = context.current(db, app_settings)
    url = qr.store_url(app_settings, store)
    for pdf in (poster_pdf(store, url, ctx), flyer_pdf(store, url, ctx)):
        text = pdf_pages(pdf)[0]["text"]
        assert "1,500円以上" in text and "3,200円以上" in text and "700円" in text
        assert "1,000円以上" not in text
    manual = "".join(p["text"] for p in pdf_pages(manual_pdf(ctx)))
    assert "1,500円以上" in manual and "3,200円以上" in manual


def test_manual_covers_use_payment_duties_and_excluded_items(db, app_settings, campaign):
    """S-3, I-7, I-8, F-3, F-4: the manual explains acquisition and use, how and when stores are
    paid, what they must and must not do, and lists every excluded item of the shared list."""
    text = "".join(p["text"] for p in pdf_pages(manual_pdf(context.current(db, app_settings))))
    text = text.replace("\r\n", "").replace("\n", "")
    for phrase in (
        "取扱店マニュアル",
        "受け取り方",
        "お会計での使い方",
        "2枚同時は2,000円以上",
        "帯の模様が動き続け",  # the live confirmation screen
        "時計が秒単位で進んで",
        "払い戻し",  # no cash refunds
        "振込手数料は事務局が負担",
        "月2回",
        "1月16日(火)〜1月31日(水)のご利用分",
        "2024年1月15日(月)〜1月21日(日)",  # round 1 from the campaign
        app_settings["kariya.callcenter.phone"],
    ):
        assert phrase in text, phrase
    for item in excluded_items.ITEMS:
        assert item["label"] in text, item["label"]


def test_inactive_store_gets_no_materials(db, app_settings, campaign):
    """S-2: no poster for a store that cannot take coupons."""
    store = make_store(db, active=False)
    with pytest.raises(Conflict):
        sets.store_zip(db, app_settings, store)


def test_bulk_build_has_one_set_per_active_store(db, app_settings, campaign, tmp_path):
    """S-2: the bulk ZIP holds one full set per active store (not the others), an index, and
    reports its progress up to done = total."""
    made = [make_store(db, code=f"S{n:04d}", name=f"テスト商店{n}号店") for n in range(1, 4)]
    make_store(db, code="S0099", name="審査中の店", active=False)
    calls = []
    path = tmp_path / "all.zip"
    count = sets.build_all(db, app_settings, path, progress=lambda d, t: calls.append((d, t)))
    assert count == 3
    assert calls[0] == (0, 3) and calls[-1] == (3, 3)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    with zipfile.ZipFile(path) as archive:
        folders = {name.split("/")[0] for name in archive.namelist() if "/" in name}
        assert folders == {"S0001", "S0002", "S0003"}
        assert len(archive.namelist()) == 3 * len(PIECES) + 1
        index = archive.read("index.csv").decode("utf-8-sig").splitlines()
        assert [line.split(",")[0] for line in index[1:]] == ["S0001", "S0002", "S0003"]
        for store in made:
            check_store_set(set_of(archive, store.code), store, qr.store_url(app_settings, store))


# --- the screens ------------------------------------------------------------------------------


@pytest.fixture
def secretariat(db, testapp):
    make_user(db, "secretariat", "jimukyoku")
    login_staff(testapp, "jimukyoku")
    return testapp


def csrf(page) -> str:
    return page.forms[0]["csrf_token"].value


def test_secretariat_builds_all_with_progress_and_downloads(db, secretariat, campaign, monkeypatch):
    """S-2: the button starts the job (run by Celery, eager here), the progress endpoint reports
    it done at 100%, and the ZIP downloads with every active store's set (stored in the database
    in several chunks, streamed back in order)."""
    monkeypatch.setattr(jobs, "CHUNK_SIZE", 200_000)
    for n in range(1, 4):
        make_store(db, code=f"S{n:04d}", name=f"テスト商店{n}号店")
    page = secretariat.get("/secretariat/materials")
    assert "利用可能な店舗 <strong>3</strong> 店舗" in page.text
    response = secretariat.post(
        "/secretariat/materials/build", {"csrf_token": csrf(page)}, status=302
    )
    page = response.follow()
    assert "3店舗分の掲示物の作成を開始しました" in page.text
    (job_id,) = db.scalars(select(MaterialJob.id)).all()
    assert db.scalar(chunk_count(job_id)) > 1
    progress = secretariat.get(f"/secretariat/materials/jobs/{job_id}.json").json
    assert (progress["state"], progress["done"], progress["total"], progress["percent"]) == (
        "done",
        3,
        3,
        100,
    )
    assert progress["download_url"].endswith(f"/secretariat/materials/jobs/{job_id}.zip")
    assert 'id="job-bar" data-percent="100"' in page.text  # no inline style under the CSP
    download = secretariat.get(f"/secretariat/materials/jobs/{job_id}.zip")
    assert download.content_type == "application/zip"
    assert "attachment" in download.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(download.body)) as archive:
        assert len([n for n in archive.namelist() if n.endswith("_poster_A3.pdf")]) == 3


def add_job(db, state: str, updated_at: dt.datetime, done: int = 1, total: int = 9) -> int:
    job = MaterialJob(
        state=state,
        done=done,
        total=total,
        requested_by="staff:x",
        requested_at=updated_at,
        updated_at=updated_at,
    )
    db.add(job)
    db.commit()
    return job.id


def chunk_count(job_id: int):
    return (
        select(func.count()).select_from(MaterialJobChunk).where(MaterialJobChunk.job_id == job_id)
    )


def test_no_second_build_while_one_runs(db, secretariat, campaign):
    """A build under way refuses another (409, Japanese), and nothing is enqueued."""
    make_store(db)
    page = secretariat.get("/secretariat/materials")
    running = {"id": add_job(db, "running", dt.datetime.now(dt.UTC))}
    response = secretariat.post(
        "/secretariat/materials/build", {"csrf_token": csrf(page)}, status=409
    )
    assert "作成中です" in response.text
    assert db.scalar(select(func.count()).select_from(MaterialJob)) == 1
    progress = secretariat.get(f"/secretariat/materials/jobs/{running['id']}.json").json
    assert (progress["state"], progress["percent"], progress["download_url"]) == (
        "running",
        11,
        None,
    )
    secretariat.get(f"/secretariat/materials/jobs/{running['id']}.zip", status=404)


def test_unknown_or_malformed_job_is_404(secretariat):
    secretariat.get("/secretariat/materials/jobs/20240101000000-deadbeef.json", status=404)
    secretariat.get("/secretariat/materials/jobs/999999.json", status=404)
    secretariat.get("/secretariat/materials/jobs/999999.zip", status=404)
    secretariat.get("/secretariat/materials/jobs/..%2F..%2Fetc.json", status=404)


def test_a_silent_build_is_given_up(db, secretariat, campaign):
    """A build whose worker fell silent for 15 minutes shows as failed with a message, and the
    next build is allowed: the old job is recorded as given up."""
    make_store(db)
    silent = add_job(db, "running", dt.datetime.now(dt.UTC) - dt.timedelta(minutes=16))
    page = secretariat.get("/secretariat/materials")
    assert "作成が途中で止まりました" in page.text
    progress = secretariat.get(f"/secretariat/materials/jobs/{silent}.json").json
    assert (progress["state"], progress["download_url"]) == ("failed", None)
    secretariat.post("/secretariat/materials/build", {"csrf_token": csrf(page)}, status=302)
    db.expire_all()
    assert db.get(MaterialJob, silent).state == "failed"
    records = db.scalars(
        select(TransitionRecord).where(
            TransitionRecord.machine == "material_job", TransitionRecord.entity_id == silent
        )
    )
    assert [(r.event, r.actor) for r in records] == [("give_up", "staff:jimukyoku")]
    (newer,) = db.scalars(select(MaterialJob).where(MaterialJob.id != silent)).all()
    assert newer.state == "done" and newer.done == 1


def test_a_failed_build_says_why_and_keeps_no_zip(
    db, registry, app_settings, campaign, monkeypatch
):
    """A build that fails part-way is recorded as failed with its reason; what it had written
    is gone, and running the task again does not revive it."""
    from tasks import celery_app

    make_store(db)
    monkeypatch.setattr(jobs, "CHUNK_SIZE", 50_000)
    job = jobs.start_job(db, app_settings, actor="staff:test")
    db.commit()
    real = sets.store_files

    def broken(store, settings, ctx, manual):
        raise Conflict("テスト用の失敗です。")

    monkeypatch.setattr(sets, "store_files", broken)
    with pytest.raises(Conflict):
        celery_app.tasks["kariya.materials.build_all"].apply(args=[job.id]).get()
    monkeypatch.setattr(sets, "store_files", real)
    db.expire_all()
    failed = db.get(MaterialJob, job.id)
    assert (failed.state, failed.message) == ("failed", "テスト用の失敗です。")
    assert db.scalar(chunk_count(job.id)) == 0
    celery_app.tasks["kariya.materials.build_all"].apply(args=[job.id]).get()
    db.expire_all()
    assert db.get(MaterialJob, job.id).state == "failed"


def test_a_build_delivered_again_starts_over_and_finishes_once(db, app_settings, campaign):
    """A task delivered a second time (its worker lost) rebuilds the ZIP from the start under a
    new attempt; once done, running it again changes nothing."""
    from tasks import celery_app

    make_store(db)
    make_store(db, code="S0002")
    job = jobs.start_job(db, app_settings, actor="staff:test")
    db.commit()
    db.execute(
        MaterialJob.__table__.update()
        .where(MaterialJob.id == job.id)
        .values(state="running", attempt=1, done=1)
    )
    db.add(MaterialJobChunk(job_id=job.id, seq=0, data=b"half a zip from the lost worker"))
    db.commit()
    celery_app.tasks["kariya.materials.build_all"].apply(args=[job.id]).get()
    db.expire_all()
    done = db.get(MaterialJob, job.id)
    assert (done.state, done.attempt, done.done, done.total) == ("done", 2, 2, 2)
    status, chunks = jobs.zip_chunks(db, job.id)
    data = b"".join(chunks)
    assert len(data) == done.size == status.size
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert {n.split("/")[0] for n in archive.namelist() if "/" in n} == {"S0001", "S0002"}
    finished_at = done.finished_at
    celery_app.tasks["kariya.materials.build_all"].apply(args=[job.id]).get()
    db.expire_all()
    assert db.get(MaterialJob, job.id).finished_at == finished_at
    events = db.scalars(
        select(TransitionRecord.event)
        .where(TransitionRecord.machine == "material_job")
        .order_by(TransitionRecord.id)
    ).all()
    assert events == ["restart", "finish"]


def test_secretariat_downloads_one_store(db, secretariat, campaign, app_settings):
    """S-2: one store's set by its code; unknown code 404, inactive store 409."""
    store = make_store(db)
    make_store(db, code="S0002", active=False)
    response = secretariat.get("/secretariat/stores/S0001/materials.zip")
    assert 'filename="materials_S0001.zip"' in response.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(response.body)) as archive:
        check_store_set(set_of(archive, "S0001"), store, qr.store_url(app_settings, store))
    lookup = secretariat.get("/secretariat/materials/store", {"code": "S0001"}, status=302)
    assert lookup.location.endswith("/secretariat/stores/S0001/materials.zip")
    assert (
        "見つかりません"
        in secretariat.get("/secretariat/stores/NOPE/materials.zip", status=404).text
    )
    secretariat.get("/secretariat/stores/S0002/materials.zip", status=409)


def test_secretariat_reissues_a_qr(db, secretariat, campaign):
    """S-2: reissue from the screen: the old token is unknown at once; no reason, no change."""
    store = make_store(db)
    old = store.qr_token
    page = secretariat.get("/secretariat/materials")
    refused = secretariat.post(
        "/secretariat/materials/reissue-qr",
        {"csrf_token": csrf(page), "code": "S0001", "reason": ""},
        status=422,
    )
    assert "理由を入力してください" in refused.text
    db.expire_all()
    assert qr.find_by_token(db, old).id == store.id
    secretariat.post(
        "/secretariat/materials/reissue-qr",
        {"csrf_token": csrf(page), "code": "S0001", "reason": "ステッカー紛失"},
        status=302,
    )
    db.expire_all()
    assert qr.find_by_token(db, old) is None
    assert db.scalar(select(Store.qr_token).where(Store.code == "S0001")) != old


def test_store_staff_get_only_their_own_store(db, testapp, campaign, app_settings):
    """S-2, D-1: a store downloads its own set from the portal; another store's URL, the
    secretariat's screens and the bulk ZIP are refused."""
    mine = make_store(db, code="S0001", name="自分の店")
    make_store(db, code="S0002", name="よその店")
    make_user(db, "store", "tencho", store_code="S0001")
    login_staff(testapp, "tencho")
    response = testapp.get("/store/materials.zip")
    with zipfile.ZipFile(io.BytesIO(response.body)) as archive:
        assert {n.split("/")[0] for n in archive.namelist()} == {"S0001"}
        check_store_set(set_of(archive, "S0001"), mine, qr.store_url(app_settings, mine))
    testapp.get("/secretariat/stores/S0002/materials.zip", status=403)
    testapp.get("/secretariat/stores/S0001/materials.zip", status=403)
    testapp.get("/secretariat/materials", status=403)
    testapp.get("/secretariat/materials/jobs/20240101000000-deadbeef.json", status=403)
    other = testapp.get("/store/materials.zip", {"code": "S0002"})  # a code is ignored
    with zipfile.ZipFile(io.BytesIO(other.body)) as archive:
        assert {n.split("/")[0] for n in archive.namelist()} == {"S0001"}


def test_anonymous_is_sent_to_login(testapp):
    response = testapp.get("/store/materials.zip", status=302)
    assert "/login" in response.location
    testapp.get("/secretariat/stores/S0001/materials.zip", status=302)


# --- the CLI ----------------------------------------------------------------------------------

KARIYA = str(Path(sys.executable).with_name("kariya"))


def test_cli_store_qr_prints_url_and_writes_png(db, tmp_path):
    """DESIGN.md section 5: `kariya store-qr CODE [--png FILE]`."""
    store = make_store(db)
    ini = tmp_path / "cli.ini"
    ini.write_text(
        "[app:main]\nuse = egg:kariya\n"
        f"sqlalchemy.url = {DATABASE_URL}\n"
        "kariya.session_secret = test-session-secret\n"
        "kariya.public_url = https://coupon.example.jp\n"
    )
    png = tmp_path / "qr.png"
    result = subprocess.run(
        [KARIYA, "-c", str(ini), "store-qr", "S0001", "--png", str(png)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    url = f"https://coupon.example.jp/s/{store.qr_token}"
    assert result.stdout.strip() == url
    assert decode(cv2.imread(str(png))) == url
    missing = subprocess.run(
        [KARIYA, "-c", str(ini), "store-qr", "NOPE"], capture_output=True, text=True, timeout=120
    )
    assert missing.returncode == 2 and "見つかりません" in missing.stderr
