"""Retention (D-1, D-2): after the hand-over, the approved erasure removes what the programme no
longer needs (the residents' personal data, also a withdrawn resident's hash, the staff's names,
login and mail addresses, mail bodies, the call centre's free texts, old access records, stored
files) and proves it: per column what it erased, a check query per personal column that finds
nothing (printed as SQL and re-run here), every table's row count, the money records unchanged
and the ledger check passing. `kariya retention check` says what is left at any time."""

import datetime as dt
import re

import pytest
from sqlalchemy import func, select, text

from kariya.audit import access, ledger_check
from kariya.callcenter import inquiries
from kariya.clock import JST
from kariya.errors import DomainError
from kariya.mail import outbox
from kariya.models import (
    AccessRecord,
    ErasureRequest,
    ExportJob,
    ExportJobChunk,
    IdempotencyRecord,
    Inquiry,
    LoginAttempt,
    OutboundMail,
    Person,
    PersonTransfer,
    StaffUser,
    Store,
    UploadedFile,
)
from kariya.reports import handover, jobs, retention
from kariya.residents import withdrawal
from kariya.settings import settings_of
from tests.conftest import BASE_SETTINGS
from tests.functional.test_dashboard import at, campaign, run_campaign  # noqa: F401 (a fixture)
from tests.functional.test_handover import ended  # noqa: F401 (a fixture)
from tests.helpers import HASH_KEY, make_user, run_cli, write_cli_ini

MONDAY = at(29, 10)  # Monday 2024-01-29 10:00 JST, after the last round settled
LONG_AGO = dt.datetime(2022, 12, 1, 9, tzinfo=JST)


def fill(db, persons) -> dict:
    """Personal data in every column retention.PERSONAL lists, and records to delete."""
    p1, p2, _p3 = persons
    withdrawal.withdraw(db, MONDAY, p2, HASH_KEY)
    for username, role, name in (
        ("sec1", "secretariat", "事務局 一郎"),
        ("city1", "city", "市役所 花子"),
        ("agent1", "agent", "山田 太郎"),
    ):
        make_user(db, role, username).display_name = name
    db.add(
        IdempotencyRecord(
            person_id=p1,
            key="k",
            request_hash="0" * 64,
            status=201,
            body="{}",
            created_at=MONDAY.now(),
        )
    )
    db.add(LoginAttempt(username="agent1", address="203.0.113.5", succeeded=True, at=MONDAY.now()))
    store = db.scalar(select(Store).where(Store.code == "S1"))
    store.email = "seika@example.jp"
    for state, error in (("sent", ""), ("failed", "550 <seika@example.jp>: no such user")):
        db.add(
            OutboundMail(
                ref=f"notice:{state}",
                store_id=store.id,
                to_addr="seika@example.jp",
                subject="お知らせ",
                body="かりや青果店 御中 山田様",
                state=state,
                attempts=1,
                last_error=error,
                created_at=MONDAY.now(),
            )
        )
    agent = access.Viewer("staff:agent1", "agent", "203.0.113.5")
    settings = settings_of(BASE_SETTINGS)
    ref = db.get(Person, p1).ref
    inquiry = inquiries.create(
        db,
        MONDAY,
        settings,
        agent,
        caller_type="resident",
        channel="phone",
        category="use",
        subject="山田さん 090-1234-5678",
        body="自宅の電話番号は 0566-11-2222 とのこと",
        person_ref=ref,
    )
    inquiry.escalation_summary, inquiry.answer = "山田さんの苦情", "山田さんへ謝罪"
    inquiries.apply(db, MONDAY, settings, agent, inquiry, "take", "山田さんから電話")
    inquiries.apply(db, MONDAY, settings, agent, inquiry, "resolve", "説明済み")
    inquiries.apply(db, MONDAY, settings, agent, inquiry, "close", "")
    db.add(
        PersonTransfer(
            state="rejected",
            inquiry_id=inquiry.id,
            from_person_id=p1,
            to_person_id=persons[2],
            identity_check="年代 70代 一致 / 地区 刈谷 一致",
            requested_by="staff:agent1",
            requested_at=MONDAY.now(),
        )
    )
    access.record(db, MONDAY.now(), agent, access.SEARCH, subject=ref, detail="q=市民1")
    access.record(db, LONG_AGO, agent, access.VIEW, subject=ref, inquiry_id=inquiry.id)
    db.add(
        UploadedFile(
            token="t" * 20,
            purpose="store_import",
            uploaded_by="staff:sec1",
            uploaded_at=MONDAY.now(),
            filename="stores.xlsx",
            size=4,
            sha256="0" * 64,
            content=b"xlsx",
        )
    )
    job = ExportJob(
        kind="handover",
        format="zip",
        encoding="utf-8-sig",
        state="done",
        requested_by="staff:sec1",
        requested_at=MONDAY.now(),
        updated_at=MONDAY.now(),
        size=3,
        sha256="a" * 64,
        problems="3行目 件名: 𠮷田さん",
    )
    db.add(job)
    db.flush()
    db.add(ExportJobChunk(job_id=job.id, seq=0, data=b"zip"))
    db.commit()
    return {"job": job.id, "inquiry": inquiry.id}


def money(db) -> dict:
    return {
        m.__tablename__: db.scalar(select(func.count()).select_from(m)) for m in retention.MONEY
    }


def approved(ini, db) -> ErasureRequest:
    asked = run_cli(ini, "erasure", "request", "--as", "sec1", "--handover", "b" * 64)
    assert asked.returncode == 0, asked.stderr
    row = db.scalar(select(ErasureRequest))
    assert run_cli(ini, "erasure", "approve", str(row.id), "--as", "city1").returncode == 0
    return row


def test_the_erasure_leaves_no_personal_column_and_proves_it(tmp_path, db, ended, set_now):  # noqa: F811
    _c, _stores, persons = ended
    set_now(MONDAY.now())  # the clock the command reads
    made = fill(db, persons)
    ini = write_cli_ini(tmp_path)
    before_money = money(db)
    # Before: every personal column holds something (so the checks below can fail).
    held = {
        name: n for _label, name, n in retention.remaining(db, MONDAY.now() - dt.timedelta(365))
    }
    assert all(held.values()), held
    inventory = run_cli(ini, "retention", "check")
    assert inventory.returncode == 1 and "残っています" in inventory.stdout

    row = approved(ini, db)
    out = tmp_path / "proof.txt"
    done = run_cli(ini, "erasure", "execute", str(row.id), "--as", "sec1", "--out", str(out))
    assert done.returncode == 0, done.stderr
    proof = out.read_text("utf-8")
    assert proof == done.stdout.rsplit("erasure request", 1)[0]

    db.expire_all()
    for p in retention.PERSONAL:  # a query per personal column: nothing left
        assert db.scalar(p.check_query()) == 0, p.column
    persons_now = db.scalars(select(Person).order_by(Person.id)).all()
    assert {
        (p.line_user_id == f"erased:{p.ref}", p.line_hash, p.display_name) for p in persons_now
    } == {(True, None, "")}
    assert {(p.age_band, p.area) for p in persons_now} == {(None, None)}
    assert (
        db.scalar(select(StaffUser.display_name).where(StaffUser.username == "agent1")) == "agent1"
    )
    assert db.scalar(select(LoginAttempt.address)) == ""
    assert db.scalar(select(Store.email).where(Store.code == "S1")) == ""
    assert {m.body for m in db.scalars(select(OutboundMail))} == {""}
    failed = db.scalar(select(OutboundMail).where(OutboundMail.state == "failed"))
    with pytest.raises(DomainError) as erased_mail:  # never sent again to an erased address
        outbox.retry(db, MONDAY, failed, actor="staff:sec1")
    assert erased_mail.value.code == "MAIL_ERASED"
    db.rollback()
    inquiry = db.get(Inquiry, made["inquiry"])
    assert (inquiry.subject, inquiry.body, inquiry.category, inquiry.state) == (
        "",
        "",
        "use",
        "closed",
    )
    assert db.scalar(select(PersonTransfer.identity_check)) == ""
    # Deleted: the old access record, the stored files; the recent ones stay.
    assert [r.at.year for r in db.scalars(select(AccessRecord))] == [2024]
    for model in (UploadedFile, ExportJobChunk):
        assert db.scalar(select(func.count()).select_from(model)) == 0
    with pytest.raises(DomainError) as gone:
        jobs.chunks(db, made["job"], handover_only=True)
    assert gone.value.code == "FILE_ERASED"

    # The money records keep every row and the ledger check passes.
    assert money(db) == before_money
    assert ledger_check.check(db, ended[0]).ok
    assert "資金台帳の検証: OK" in proof and "行数は消去の前と同じ: はい" in proof
    assert "LINEの識別子か表示名が残っている市民 0 人" in proof
    assert "市民のLINEの表示名 (person.display_name): 3" in proof  # the withdrawn one had none
    assert "市民のLINEの識別子 (person.line_user_id): 4" in proof
    assert "保存期間を過ぎた閲覧・出力の記録 (access_record): 1" in proof
    # The proof's check queries are real SQL: run again, each counts 0.
    queries = re.findall(r"^  (\S+): 0  -- (SELECT .+)$", proof, re.M)
    assert {name for name, _sql in queries} == {
        f"{p.table.name}.{p.column}" for p in retention.PERSONAL
    }
    for _name, sql in queries:
        assert db.scalar(text(sql)) == 0, sql
    stored = db.get(ErasureRequest, row.id)
    assert stored.proof == proof and stored.state == "executed"
    again = run_cli(ini, "erasure", "proof", str(row.id))
    assert again.stdout.startswith(proof) and stored.proof_sha256 in again.stdout
    after = run_cli(ini, "retention", "check")
    assert after.returncode == 0 and "残っていません" in after.stdout, after.stdout


def test_the_erasure_waits_for_what_still_needs_the_data(tmp_path, db, ended, set_now):  # noqa: F811
    _c, _stores, persons = ended
    set_now(MONDAY.now())
    make_user(db, "secretariat", "sec1")
    make_user(db, "city", "city1")
    ini = write_cli_ini(tmp_path)
    row = approved(ini, db)
    mail = OutboundMail(
        ref="report:final",
        to_addr="city@example.jp",
        subject="最終報告",
        body="本文",
        state="pending",
        attempts=0,
        last_error="",
        created_at=MONDAY.now(),
    )
    db.add(mail)
    db.commit()
    refused = run_cli(ini, "erasure", "execute", str(row.id), "--as", "sec1")
    assert refused.returncode == 2 and "送信待ちのメールが1件" in refused.stderr
    db.expire_all()
    assert db.get(ErasureRequest, row.id).state == "approved"  # nothing happened
    assert db.get(Person, persons[0]).display_name == "市民1"

    mail.state = "sent"
    inquiry = inquiries.create(
        db,
        MONDAY,
        settings_of(BASE_SETTINGS),
        access.Viewer("staff:agent1", "agent"),
        caller_type="resident",
        channel="phone",
        category="use",
        subject="まだ対応中",
    )
    db.commit()
    refused = run_cli(ini, "erasure", "execute", str(row.id), "--as", "sec1")
    assert refused.returncode == 2 and "完了していないお問い合わせが1件" in refused.stderr
    inquiry.state = "merged"
    db.commit()
    done = run_cli(ini, "erasure", "execute", str(row.id), "--as", "sec1", "--before", "2024-01-01")
    assert done.returncode == 0, done.stderr
    assert "2024-01-01 00:00 より前の記録を削除" in done.stdout


def test_the_erasure_is_refused_before_the_city_approves_and_runs_once(tmp_path, db, ended):  # noqa: F811
    make_user(db, "secretariat", "sec1")
    make_user(db, "city", "city1")
    row = handover.request_erasure(db, MONDAY, actor="staff:sec1", handover_sha256="c" * 64)
    db.commit()
    settings = settings_of(BASE_SETTINGS)
    with pytest.raises(DomainError) as refused:
        retention.execute(db, MONDAY, settings, row, actor="staff:sec1")
    assert refused.value.code == "BAD_TRANSITION"
    db.rollback()
    handover.decide(db, MONDAY, row, approve=True, actor="staff:city1")
    retention.execute(db, MONDAY, settings, row, actor="staff:sec1")
    db.commit()
    with pytest.raises(DomainError):
        retention.execute(db, MONDAY, settings, row, actor="staff:sec1")
