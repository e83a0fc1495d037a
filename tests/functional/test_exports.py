"""The city's data on request (C-2, D-1; DESIGN §5.3 `kariya export`): uses, residents and
stores as CSV (UTF-8 with BOM, or cp932 with what it cannot hold reported) or .xlsx; residents
only under their person_ref with age band and area, never their LINE id; formula-like cells
defused; one header row and a row per record; from the city's page as a job with progress."""

import csv
import io
import json
import logging
import re

import openpyxl
import pytest
from sqlalchemy import func, select

from kariya.models import Person, Redemption
from tests.functional.test_dashboard import campaign, run_campaign  # noqa: F401 (a fixture)
from tests.helpers import csrf_from, login_staff, make_store, make_user, run_cli, write_cli_ini

TRICKY = {
    "X1": '=HYPERLINK("http://example.com","x")',
    "X2": "+81-566-00-0000",
    "X3": "@SUM(A1)",
    "X4": "-1+2",
    "X5": "＝１＋１",  # full-width: a spreadsheet may normalise it
    "X6": "\tタブで始まる店",
    "X7": "髙橋商店",  # 髙 is one of cp932's machine-dependent (IBM extension) characters
    "X8": "𠮷野家",  # 𠮷 is not in cp932 at all
}


@pytest.fixture
def ini(tmp_path):
    return write_cli_ini(tmp_path)


@pytest.fixture
def spent(db, campaign):  # noqa: F811
    run_campaign(db, campaign)
    for code, name in TRICKY.items():
        make_store(db, code, name)
    return campaign


def read_csv(path, encoding="utf-8-sig"):
    raw = path.read_bytes()
    return raw, list(csv.reader(io.StringIO(raw.decode(encoding), newline="")))


def test_uses_as_csv_with_bom_person_ref_and_no_line_ids(ini, tmp_path, db, spent):
    out = tmp_path / "uses.csv"
    result = run_cli(ini, "export", "uses", "--out", str(out), "--format", "csv")
    assert result.returncode == 0, result.stderr
    raw, rows = read_csv(out)
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 only with the BOM
    assert not raw.startswith(b"\xef\xbb\xbfsep=")
    header, body = rows[0], rows[1:]
    assert header[:4] == ["確認番号", "利用日時", "回", "店舗コード"]
    assert "person_ref" in header and "年代" in header and "地区" in header
    assert len(body) == db.scalar(select(func.count()).select_from(Redemption)) == 6
    assert f"{len(body)} rows" in result.stdout
    persons = db.scalars(select(Person)).all()
    text = raw.decode("utf-8-sig")
    for person in persons:
        assert person.line_user_id not in text and person.display_name not in text
    assert not re.search(r"U[0-9a-f]{32}", text)
    col = {name: i for i, name in enumerate(header)}
    first = body[0]
    p1 = db.get(Person, spent[2][0])
    assert first[col["person_ref"]] == p1.ref and first[col["年代"]] == "70代"
    assert first[col["地区"]] == "刈谷地区" and first[col["利用日時"]] == "2024-01-15 10:05:00"
    assert (first[col["割引額(円)"]], first[col["お会計額(円)"]]) == ("1000", "2500")
    voided = [r for r in body if r[col["取消日時"]]]
    assert len(voided) == 1 and voided[0][col["状態"]] == "取消済み"
    assert voided[0][col["取消日時"]] == "2024-01-15 11:05:00"


def test_cp932_reports_what_it_cannot_hold_and_formulas_are_defused(ini, tmp_path, spent):
    out = tmp_path / "stores.csv"
    result = run_cli(ini, "export", "stores", "--out", str(out), "--encoding", "cp932")
    assert result.returncode == 0, result.stderr
    raw, rows = read_csv(out, "cp932")
    assert not raw.startswith(b"\xef\xbb\xbf")
    names = {r[0]: r[1] for r in rows[1:]}
    assert names["X8"] == "〓野家"  # written as the geta mark, and said so:
    row = next(i for i, r in enumerate(rows, start=1) if r[0] == "X8")
    assert f"{row}行目「店舗名」: 「𠮷」(U+20BB7)" in result.stderr and "〓" in result.stderr
    assert names["X7"] == "髙橋商店"  # cp932 holds it (an IBM extension); named as such
    row = next(i for i, r in enumerate(rows, start=1) if r[0] == "X7")
    assert f"{row}行目「店舗名」: 「髙」(U+9AD9) は機種依存文字" in result.stderr
    assert "1 characters replaced; 1 machine-dependent characters" in result.stdout
    for code, name in TRICKY.items():
        if code not in ("X7", "X8"):
            assert names[code] == "'" + name, code
    assert names["S1"] == "かりや青果店"  # ordinary text is left as it is
    assert len(rows) == 1 + 4 + len(TRICKY)


def test_xlsx_cells_are_text_or_numbers_never_formulas(ini, tmp_path, db, spent):
    out = tmp_path / "stores.xlsx"
    assert run_cli(ini, "export", "stores", "--out", str(out)).returncode == 0
    ws = openpyxl.load_workbook(out).active
    rows = list(ws.iter_rows())
    assert [c.value for c in rows[0]][:2] == ["店舗コード", "店舗名"]
    assert len(rows) == 1 + 4 + len(TRICKY)
    cells = [c for row in rows for c in row if c.value is not None]
    assert {c.data_type for c in cells} <= {"s", "n"}
    by_code = {row[0].value: row for row in rows[1:]}
    assert by_code["X1"][1].value == "'" + TRICKY["X1"] and by_code["X1"][1].data_type == "s"
    assert by_code["X7"][1].value == "髙橋商店"  # xlsx holds every character
    assert by_code["S2"][9].value == 3 and by_code["S2"][9].data_type == "n"  # uses, a number
    assert by_code["S1"][11].value == 1000  # paid to S1


def test_residents_are_pseudonymous(ini, tmp_path, db, spent):
    out = tmp_path / "residents.xlsx"
    assert run_cli(ini, "export", "residents", "--out", str(out)).returncode == 0
    rows = list(openpyxl.load_workbook(out).active.values)
    assert rows[0][0] == "person_ref" and len(rows) == 1 + 4
    refs = {r[0] for r in rows[1:]}
    assert refs == set(db.scalars(select(Person.ref)))
    flat = json.dumps(rows, ensure_ascii=False, default=str)
    for person in db.scalars(select(Person)):
        assert person.line_user_id not in flat and person.display_name not in flat
    p1 = next(r for r in rows if r[0] == db.get(Person, spent[2][0]).ref)
    assert p1[1:3] == ("70代", "刈谷地区") and p1[5:] == (2, 4000, 3, 2000)


def test_the_call_centres_kinds_export_through_the_same_exporter(ini, tmp_path, db):
    """DESIGN 5.3: inquiries and the access log are kinds of `kariya export` like the others;
    the export of the access log is itself in the access log (D-1)."""
    from kariya.audit.models import AccessRecord

    result = run_cli(ini, "export", "access-log", "--out", str(tmp_path / "x.csv"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "x.csv").read_bytes().decode("utf-8-sig").startswith("日時,操作者,役割")
    db.expire_all()
    assert db.scalar(select(AccessRecord.subject).where(AccessRecord.action == "export.access-log"))
    unknown = run_cli(ini, "export", "nope", "--out", str(tmp_path / "y.csv"))
    assert unknown.returncode != 0 and not (tmp_path / "y.csv").exists()


def test_the_city_exports_from_its_page_as_a_job(testapp, db, spent, caplog):
    make_user(db, "city")
    login_staff(testapp, "city")
    page = testapp.get("/city/exports")
    assert "利用実績" in page.text and "person_ref" in page.text
    caplog.set_level(logging.INFO, logger="kariya.reports.exports")
    testapp.post(
        "/city/exports/start",
        {"kind": "uses", "format": "csv", "encoding": "cp932", "csrf_token": csrf_from(page.text)},
        status=302,
    )
    from kariya.audit.models import AccessRecord

    record = db.scalar(select(AccessRecord).where(AccessRecord.action == "export.uses"))
    assert (record.actor, record.role, record.subject) == ("staff:city", "city", "uses")
    listed = testapp.get("/city/exports")
    job_url = re.search(r'data-url="http://localhost(/city/exports/jobs/\d+\.json)"', listed.text)
    job = testapp.get(job_url.group(1)).json  # eager Celery ran it after the commit
    assert (job["state"], job["done"], job["percent"]) == ("done", 6, 100)
    data = testapp.get(job["download_url"].removeprefix("http://localhost")).body
    text = data.decode("cp932")
    assert text.splitlines()[0].startswith("確認番号,利用日時")
    assert len(text.splitlines()) == 7
    # The rows counted, a second export of another kind at once is fine, an unknown one is not.
    bad = testapp.post(
        "/city/exports/start",
        {"kind": "nope", "format": "csv", "csrf_token": csrf_from(listed.text)},
        status=422,
    )
    assert "ありません" in bad.text


def test_other_roles_cannot_export(testapp, db, spent):
    make_user(db, "secretariat")
    login_staff(testapp, "secretariat")
    testapp.get("/city/exports", status=403)
    make_user(db, "agent")
    login_staff(testapp, "agent")
    testapp.get("/api/v1/staff/dashboard", status=403)
