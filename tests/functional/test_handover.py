"""The hand-over (D-2; DESIGN §5.3 `kariya handover`): one ZIP with every table as CSV (UTF-8 with
BOM), a data dictionary in Japanese and a MANIFEST.txt whose SHA-256 match the files; then the
erasure of the residents' personal data, requested by the secretariat, approved by the city
(four eyes), executed once, with the proof of what remains (D-1)."""

import csv
import hashlib
import io
import re
import zipfile

import pytest
from sqlalchemy import func, select

from kariya.coupons import ticker
from kariya.errors import DomainError
from kariya.models import Base, ErasureRequest, Person, Redemption
from kariya.reports import handover
from tests.functional.test_dashboard import at, campaign, run_campaign  # noqa: F401 (a fixture)
from tests.helpers import csrf_from, login_staff, make_user, run_cli, write_cli_ini


@pytest.fixture
def ended(db, campaign):  # noqa: F811
    run_campaign(db, campaign)
    ticker.run_due(db, at(29, 0, 1), actor="test")  # the last round closes and settles
    db.commit()
    return campaign


def read_zip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def rows_of(raw: bytes) -> list[list[str]]:
    assert raw.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def test_the_zip_holds_every_table_its_dictionary_and_a_true_manifest(tmp_path, db, ended):
    ini = write_cli_ini(tmp_path)
    out = tmp_path / "handover.zip"
    result = run_cli(ini, "handover", "--out", str(out))
    assert result.returncode == 0, result.stderr
    data = out.read_bytes()
    assert f"sha256 {hashlib.sha256(data).hexdigest()}" in result.stdout
    files = read_zip(data)
    manifest = files.pop("MANIFEST.txt").decode("utf-8")
    listed = dict(reversed(line.split("  ", 1)) for line in manifest.splitlines())
    assert set(listed) == set(files)  # every file but the manifest, each once
    for name, content in files.items():
        assert hashlib.sha256(content).hexdigest() == listed[name], name
    assert handover.verify(data) == []
    expected = {f"tables/{t.name}.csv" for t in Base.metadata.sorted_tables} - {
        "tables/material_job_chunk.csv",
        "tables/export_job_chunk.csv",
    }
    assert expected <= set(files) and {"data_dictionary.csv", "README.txt"} <= set(files)

    uses = rows_of(files["tables/redemption.csv"])
    assert uses[0][:3] == ["id", "person_id", "store_id"]
    assert len(uses) - 1 == db.scalar(select(func.count()).select_from(Redemption)) == 6
    persons = rows_of(files["tables/person.csv"])
    assert "line_user_id" not in persons[0] and "display_name" not in persons[0]
    assert "ref" in persons[0] and len(persons) == 1 + 4
    staff = rows_of(files["tables/staff_user.csv"])
    assert "password_hash" not in staff[0]
    every = b"".join(files.values()).decode("utf-8", "replace")
    for person in db.scalars(select(Person)):
        assert person.line_user_id not in every
    assert "2024-01-15T10:05:00+09:00" in every  # times in the campaign's zone

    dictionary = rows_of(files["data_dictionary.csv"])
    assert dictionary[0] == [
        "ファイル",
        "テーブル",
        "テーブルの説明",
        "列",
        "列の説明",
        "型",
        "備考",
    ]
    described = {(r[1], r[3]): r for r in dictionary[1:]}
    assert described[("redemption", "bill_amount")][4].startswith("お会計額")
    assert "含めません" in described[("person", "line_user_id")][6]
    assert all(r[4] for r in dictionary[1:]), "every column is described in Japanese"
    # A changed byte is caught by the manifest.
    tampered = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(tampered, "w") as dst:
        for name in src.namelist():
            body = src.read(name)
            dst.writestr(
                name, body.replace(b"10000", b"10001") if name == "tables/round.csv" else body
            )
    assert handover.verify(tampered.getvalue()) == ["tables/round.csv: SHA-256 differs"]


def test_the_erasure_needs_the_city_and_proves_what_remains(tmp_path, db, ended):
    ini = write_cli_ini(tmp_path)
    make_user(db, "secretariat", "sec1")
    make_user(db, "city", "city1")
    out = tmp_path / "handover.zip"
    made = run_cli(ini, "handover", "--out", str(out))
    digest = re.search(r"sha256 ([0-9a-f]{64})", made.stdout).group(1)
    asked = run_cli(ini, "erasure", "request", "--as", "sec1", "--handover", digest)
    assert asked.returncode == 0, asked.stderr
    row = db.scalar(select(ErasureRequest))
    assert (row.state, row.handover_sha256) == ("requested", digest)
    assert run_cli(ini, "erasure", "execute", str(row.id), "--as", "sec1").returncode == 2
    wrong_role = run_cli(ini, "erasure", "approve", str(row.id), "--as", "sec1")
    assert wrong_role.returncode == 2 and "市の担当者" in wrong_role.stderr
    assert run_cli(ini, "erasure", "approve", str(row.id), "--as", "city1").returncode == 0
    done = run_cli(ini, "erasure", "execute", str(row.id), "--as", "sec1")
    assert done.returncode == 0, done.stderr
    assert "LINEの識別子か表示名が残っている市民 0 人" in done.stdout
    assert "資金台帳の検証: OK" in done.stdout and "redemption: 6" in done.stdout
    db.expire_all()
    for person in db.scalars(select(Person)):
        assert person.line_user_id == "erased:" + person.ref and person.display_name == ""
    row = db.get(ErasureRequest, row.id)
    assert row.state == "executed" and row.executed_by == "staff:sec1"
    assert row.proof_sha256 == hashlib.sha256(row.proof.encode()).hexdigest()
    again = run_cli(ini, "erasure", "execute", str(row.id), "--as", "sec1")
    assert again.returncode == 2  # once


def test_no_erasure_before_the_end_or_by_the_one_who_asked(db, campaign):  # noqa: F811
    run_campaign(db, campaign)
    with pytest.raises(DomainError) as refused:
        handover.request_erasure(db, at(24, 12), actor="staff:sec1", handover_sha256="0" * 64)
    assert refused.value.code == "CAMPAIGN_RUNNING"
    db.rollback()
    ticker.run_due(db, at(29, 0, 1), actor="test")
    with pytest.raises(DomainError) as refused:
        handover.request_erasure(db, at(29, 9), actor="staff:sec1")
    assert refused.value.code == "NO_HANDOVER"
    row = handover.request_erasure(db, at(29, 9), actor="staff:sec1", handover_sha256="a" * 64)
    with pytest.raises(DomainError) as refused:
        handover.decide(db, at(29, 10), row, approve=True, actor="staff:sec1")
    assert refused.value.code == "SAME_PERSON"
    with pytest.raises(DomainError) as refused:
        handover.request_erasure(db, at(29, 9), actor="staff:sec2", handover_sha256="b" * 64)
    assert refused.value.code == "ERASURE_PENDING"


def test_the_pages_build_the_zip_and_the_city_decides(testapp, db, ended):
    make_user(db, "secretariat", "sec1")
    make_user(db, "city", "city1")
    secretariat = testapp.__class__(testapp.app, extra_environ={"HTTP_HOST": "localhost"})
    login_staff(secretariat, "sec1")
    page = secretariat.get("/secretariat/handover")
    secretariat.post(
        "/secretariat/handover/build", {"csrf_token": csrf_from(page.text)}, status=302
    )
    page = secretariat.get("/secretariat/handover")
    assert "完了" in page.text
    link = re.search(r'href="http://localhost(/secretariat/handover/jobs/\d+\.zip)"', page.text)
    data = secretariat.get(link.group(1)).body
    assert handover.verify(data) == [] and "MANIFEST.txt" in read_zip(data)
    secretariat.post(
        "/secretariat/handover/erasures", {"csrf_token": csrf_from(page.text)}, status=302
    )

    login_staff(testapp, "city1")
    city = testapp.get("/city/handover")
    assert hashlib.sha256(data).hexdigest() in city.text  # the approver compares it with the ZIP
    zipped = re.search(r'href="http://localhost(/city/handover/jobs/\d+\.zip)"', city.text)
    assert testapp.get(zipped.group(1)).body == data
    row = db.scalar(select(ErasureRequest))
    assert row.handover_sha256 == hashlib.sha256(data).hexdigest()
    testapp.post(
        f"/city/handover/erasures/{row.id}/approve",
        {"csrf_token": csrf_from(city.text)},
        status=302,
    )
    db.expire_all()
    assert db.get(ErasureRequest, row.id).decided_by == "staff:city1"
    secretariat.get("/city/handover", status=403)
