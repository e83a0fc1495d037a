"""The audit log of staff actions (issue 14; I-10, D-1; PEERS "Personal data": logins, writes and
operator access with user, address, time, action and object): every state-changing staff action,
the login attempts, logouts and unlocks, with who, from where, on which record and how it ended;
written with the action when it commits, apart when it is refused, failed or rolled back; never
a password, a CSRF token or a body; append only; read and exported by the city and the
secretariat only."""

from __future__ import annotations

import contextlib
import datetime as dt

import openpyxl
import pytest
import sqlalchemy as sa
import webtest
from sqlalchemy import func, select

from kariya.audit import actions
from kariya.audit.action_labels import LABELS, is_action
from kariya.models import Inquiry, PayoutBatch, StaffAction, TransitionRecord
from tests.functional.test_payouts import spent  # noqa: F401 (a fixture)
from tests.functional.test_security import proxied_app  # noqa: F401 (a fixture)
from tests.functional.test_staff_totp import enrolled, phone, second_step  # noqa: F401
from tests.helpers import (
    PASSWORD,
    csrf_from,
    login_staff,
    make_user,
    run_cli,
    write_cli_ini,
)

JST = dt.timezone(dt.timedelta(hours=9))
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def client(app, address: str, **environ) -> webtest.TestApp:
    return webtest.TestApp(
        app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": address, **environ}
    )


def staff_client(testapp, db, role: str, username: str, address: str) -> webtest.TestApp:
    make_user(db, role, username=username)
    browser = client(testapp.app, address)
    assert login_staff(browser, username).status_code == 302
    return browser


def post(browser, page_url: str, action_url: str, fields=None, status=302):
    page = browser.get(page_url)
    return browser.post(
        action_url, {**(fields or {}), "csrf_token": csrf_from(page.text)}, status=status
    )


def api(browser) -> dict:
    return {"X-CSRF-Token": browser.get("/api/v1/staff/me").json["csrf_token"]}


def logged(db, action: str | None = None) -> list[StaffAction]:
    query = select(StaffAction).order_by(StaffAction.id)
    if action is not None:
        query = query.where(StaffAction.action == action)
    return list(db.scalars(query))


def summary(entry: StaffAction) -> tuple:
    return (
        entry.actor,
        entry.role,
        entry.address,
        entry.record,
        entry.status,
        entry.outcome,
        entry.detail,
    )


def linked(db, entry: StaffAction) -> list[tuple]:
    rows = db.scalars(
        select(TransitionRecord).where(TransitionRecord.id.in_(actions.ids_of(entry)))
    )
    return sorted((r.machine, r.entity_id, r.event, r.actor) for r in rows)


def test_a_payout_approval_and_its_refusals_are_logged(testapp, db, spent):  # noqa: F811
    """I-10, F-1: the approval is logged with the city's account, address, batch and outcome,
    in the transaction that approved (linked to the machine's own record); the secretariat's
    attempt (403) and a second approval (409) are logged as refused, apart."""
    secretariat = staff_client(testapp, db, "secretariat", "sec1", "10.0.0.5")
    city = staff_client(testapp, db, "city", "city1", "10.0.0.7")
    post(secretariat, "/secretariat/payouts", "/secretariat/payouts/build")
    batch = db.scalar(select(PayoutBatch))
    page = f"/secretariat/payouts/{batch.id}"
    post(secretariat, page, f"/secretariat/payouts/{batch.id}/submit")
    post(secretariat, page, f"/city/payouts/{batch.id}/approve", status=403)
    post(city, f"/city/payouts/{batch.id}", f"/city/payouts/{batch.id}/approve")
    post(city, f"/city/payouts/{batch.id}", f"/city/payouts/{batch.id}/approve", status=409)

    record = f"id={batch.id}"
    assert [summary(e) for e in logged(db, "city.payout_action.approve")] == [
        ("staff:sec1", "secretariat", "10.0.0.5", record, 403, "refused", "FORBIDDEN"),
        ("staff:city1", "city", "10.0.0.7", record, 302, "done", ""),
        ("staff:city1", "city", "10.0.0.7", record, 409, "refused", "BAD_TRANSITION"),
    ]
    approved = logged(db, "city.payout_action.approve")[1]
    assert approved.at == dt.datetime(2024, 1, 16, 10, tzinfo=JST)  # the project's clock
    assert approved.method == "POST"
    assert ("payout", batch.id, "approve", "staff:city1") in linked(db, approved)
    assert approved.transitions >= 1
    refused = logged(db, "city.payout_action.approve")[2]
    assert refused.transition_ids == "" and refused.transitions == 0  # rolled back: no link
    (submitted,) = logged(db, "secretariat.payout_action.submit")
    assert summary(submitted)[:6] == ("staff:sec1", "secretariat", "10.0.0.5", record, 302, "done")
    assert linked(db, submitted) == [("payout", batch.id, "submit", "staff:sec1")]
    (built,) = logged(db, "secretariat.payouts_build")
    assert built.record == "" and built.outcome == "done"

    # The city reads it on its page, in Japanese, with the machine's words for the link.
    page = city.get("/city/staff-actions", {"action": "city.payout_action.approve"})
    assert "支払バッチの承認" in page.text and "10.0.0.7" in page.text
    assert f"支払バッチ No.{batch.id}: 承認" in page.text
    assert page.text.count('class="outcome-refused"') == 2


@contextlib.contextmanager
def refusing(engine, db, table: str, when: str, condition: str, message: str, deferred=False):
    """A PostgreSQL trigger on `table` that raises `message` where `condition` holds of NEW,
    `when` ("BEFORE INSERT"), or at COMMIT where `deferred` (a constraint trigger), for one
    test."""
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE FUNCTION test_refuse() RETURNS trigger AS $$ BEGIN"
                f" IF {condition} THEN RAISE EXCEPTION '{message}'; END IF; RETURN NEW;"
                " END; $$ LANGUAGE plpgsql"
            )
        )
        kind, deferral = ("CONSTRAINT ", "DEFERRABLE INITIALLY DEFERRED") if deferred else ("", "")
        conn.execute(
            sa.text(
                f"CREATE {kind}TRIGGER test_refuse {when} ON {table} {deferral}"
                " FOR EACH ROW EXECUTE FUNCTION test_refuse()"
            )
        )
    try:
        yield
    finally:
        db.rollback()  # the test's reads hold the table, which DROP TRIGGER must lock
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TRIGGER test_refuse ON {table}"))
            conn.execute(sa.text("DROP FUNCTION test_refuse()"))


@pytest.fixture
def approval_fails_at_commit(engine, db):
    """A deferred check that fails at COMMIT, after the view answered and the entry was written."""
    approved = "NEW.state = 'approved'"
    with refusing(engine, db, "payout_batch", "AFTER UPDATE", approved, "closed", deferred=True):
        yield


def test_an_action_whose_commit_fails_leaves_no_done_entry(
    testapp,
    db,
    spent,  # noqa: F811
    approval_fails_at_commit,
):
    """The entry is written in the action's own transaction: when that transaction's COMMIT
    fails, the approval and its "done" entry go together, and the log says it was aborted."""
    secretariat = staff_client(testapp, db, "secretariat", "sec1", "10.0.0.5")
    city = staff_client(testapp, db, "city", "city1", "10.0.0.7")
    post(secretariat, "/secretariat/payouts", "/secretariat/payouts/build")
    batch = db.scalar(select(PayoutBatch))
    post(secretariat, f"/secretariat/payouts/{batch.id}", f"/secretariat/payouts/{batch.id}/submit")
    post(city, f"/city/payouts/{batch.id}", f"/city/payouts/{batch.id}/approve", status=500)
    db.expire_all()
    assert db.get(PayoutBatch, batch.id).state == "submitted"
    assert [summary(e) for e in logged(db, "city.payout_action.approve")] == [
        ("staff:city1", "city", "10.0.0.7", f"id={batch.id}", 500, "aborted", "COMMIT_FAILED")
    ]
    (entry,) = logged(db, "city.payout_action.approve")
    assert entry.transition_ids == "" and entry.transitions == 0


@pytest.fixture
def done_entries_fail(engine, db):
    """The log refuses to take a "done" approval: the entry cannot be written with it."""
    condition = "NEW.outcome = 'done' AND NEW.action = 'city.payout_action.approve'"
    with refusing(engine, db, "staff_action", "BEFORE INSERT", condition, "the log is full"):
        yield


def test_an_action_whose_entry_cannot_be_written_does_not_happen(
    testapp,
    db,
    spent,  # noqa: F811
    done_entries_fail,
):
    """No action commits without its entry: the approval is rolled back, the city sees the
    error page, and the failure is logged apart."""
    secretariat = staff_client(testapp, db, "secretariat", "sec1", "10.0.0.5")
    city = staff_client(testapp, db, "city", "city1", "10.0.0.7")
    post(secretariat, "/secretariat/payouts", "/secretariat/payouts/build")
    batch = db.scalar(select(PayoutBatch))
    post(secretariat, f"/secretariat/payouts/{batch.id}", f"/secretariat/payouts/{batch.id}/submit")
    failed = post(
        city, f"/city/payouts/{batch.id}", f"/city/payouts/{batch.id}/approve", status=500
    )
    assert "エラーが発生しました" in failed.text
    db.expire_all()
    assert db.get(PayoutBatch, batch.id).state == "submitted"
    assert [summary(e)[4:6] for e in logged(db, "city.payout_action.approve")] == [(500, "error")]


def test_a_document_event_is_logged_with_its_kind_and_version(testapp, db):
    """C-4: the secretariat's new version and its submission, the city's approval, and the
    refusals (an agent approving, approving twice) with the document's kind and version."""
    secretariat = staff_client(testapp, db, "secretariat", "jimu1", "10.0.0.5")
    city = staff_client(testapp, db, "city", "shi", "10.0.0.7")
    agent = staff_client(testapp, db, "agent", "cc1", "10.0.0.9")
    base = "/api/v1/staff/documents/terms/versions"
    body = {"body": "# 利用規約(第2版)\n\n新しい条文です。\n", "change_note": "条文の追加"}
    number = secretariat.post_json(base, body, headers=api(secretariat), status=201).json["version"]
    events = f"{base}/{number}/events"
    secretariat.post_json(events, {"event": "submit"}, headers=api(secretariat))
    agent.post_json(events, {"event": "approve"}, headers=api(agent), status=403)
    city.post_json(events, {"event": "approve"}, headers=api(city))
    city.post_json(events, {"event": "approve"}, headers=api(city), status=409)

    (created,) = logged(db, "api.staff.document_versions")
    assert summary(created)[:6] == (
        "staff:jimu1",
        "secretariat",
        "10.0.0.5",
        "kind=terms",
        201,
        "done",
    )
    record = f"kind=terms number={number}"
    assert [summary(e) for e in logged(db, "api.staff.document_events")] == [
        ("staff:jimu1", "secretariat", "10.0.0.5", record, 200, "done", ""),
        ("staff:cc1", "agent", "10.0.0.9", record, 403, "refused", "FORBIDDEN"),
        ("staff:shi", "city", "10.0.0.7", record, 200, "done", ""),
        ("staff:shi", "city", "10.0.0.7", record, 409, "refused", "BAD_TRANSITION"),
    ]
    approved = logged(db, "api.staff.document_events")[2]
    assert [m[2:] for m in linked(db, approved) if m[0] == "document"] == [("approve", "staff:shi")]
    # The city finds the version's entries by its record.
    found = city.get("/city/staff-actions", {"record": f"kind=terms number={number}"})
    assert found.text.count("<tr class=") == 4
    # Nothing of the body goes into the log.
    assert not db.scalar(
        select(func.count()).where(
            sa.or_(StaffAction.record.contains("条文"), StaffAction.detail.contains("条文"))
        )
    )


def test_logins_an_unlock_and_a_logout_are_logged_without_passwords(testapp, db):
    """I-10: five failed logins (the account typed, no actor), the refusal at the limit (429),
    the secretariat's unlock (the account, never the reason), the login that follows and the
    logout; no password and no CSRF token anywhere in the log."""
    make_user(db, "city", username="city")
    make_user(db, "secretariat", username="secretariat")
    desk = client(testapp.app, "10.0.0.21")
    for _ in range(5):
        login_staff(desk, "city", "wrong-password-x")
    login_staff(desk, "city", status=429)
    office = client(testapp.app, "10.0.0.2")
    login_staff(office, "secretariat")
    page = office.get("/secretariat/login-locks")
    token = csrf_from(page.text)
    reason = "本人から電話で依頼(折り返しで確認)"
    office.post(
        "/secretariat/login-locks/unlock",
        {"username": "city", "reason": reason, "csrf_token": token},
        status=302,
    )
    assert login_staff(desk, "city").status_code == 302
    home = desk.get("/city/")
    desk.post("/logout", {"csrf_token": csrf_from(home.text)}, status=302)

    logins = logged(db, "login")
    assert [summary(e) for e in logins] == [
        ("", "", "10.0.0.21", "account=city", 200, "refused", "LOGIN_FAILED")
    ] * 5 + [
        ("", "", "10.0.0.21", "account=city", 429, "refused", "LOGIN_THROTTLED"),
        ("staff:secretariat", "secretariat", "10.0.0.2", "account=secretariat", 302, "done", ""),
        ("staff:city", "city", "10.0.0.21", "account=city", 302, "done", ""),
    ]
    (unlock,) = logged(db, "secretariat.login_unlock")
    assert summary(unlock) == (
        "staff:secretariat",
        "secretariat",
        "10.0.0.2",
        "account=city",
        302,
        "done",
        "",
    )
    (logout,) = logged(db, "logout")
    assert summary(logout)[:6] == ("staff:city", "city", "10.0.0.21", "", 302, "done")

    every_text = " ".join(
        " ".join(str(v) for v in summary(e)) + e.action + e.method for e in logged(db)
    )
    for secret in (PASSWORD, "wrong-password-x", token, reason):
        assert secret not in every_text

    # The unlock's refusal (no reason given) is logged too, apart from its rolled-back request.
    office.post(
        "/secretariat/login-locks/unlock",
        {"username": "city", "reason": "", "csrf_token": token},
        status=422,
    )
    assert summary(logged(db, "secretariat.login_unlock")[-1])[4:6] == (422, "refused")


def test_the_second_factor_steps_are_logged_with_the_half_logins_account(
    testapp,
    db,
    phone,  # noqa: F811
):
    """The enrolment, the password step that leads to the code, a wrong code and the right
    one: each with the account it belongs to, though a half login has no staff session; the
    codes themselves are never kept."""
    make_user(db, "city", username="city")
    enrolled(testapp, phone)
    login_staff(testapp, "city")
    wrong = phone.wrong()
    second_step(testapp, wrong)
    right = phone.code()
    assert second_step(testapp, right).status_code == 302

    (enrolment,) = logged(db, "staff.second_factor")
    assert summary(enrolment)[:6] == ("staff:city", "city", "10.0.0.1", "account=city", 200, "done")
    assert [summary(e)[5:] for e in logged(db, "login")] == [
        ("done", ""),
        ("done", "SECOND_FACTOR_NEXT"),
    ]
    assert [summary(e) for e in logged(db, "login.code")] == [
        ("staff:city", "city", "10.0.0.1", "account=city", 200, "refused", "CODE_REFUSED"),
        ("staff:city", "city", "10.0.0.1", "account=city", 302, "done", ""),
    ]
    every_text = " ".join(" ".join(str(v) for v in summary(e)) for e in logged(db))
    assert wrong not in every_text and right not in every_text


def test_a_doomed_action_is_logged_as_aborted_and_writes_nothing(testapp, db):
    """A refusal answered with a redirect (the call centre's console dooms the transaction):
    nothing of the action is written, and the log says it did not happen."""
    agent = staff_client(testapp, db, "agent", "cc1", "10.0.0.9")
    post(agent, "/callcenter/", "/callcenter/inquiries", {"subject": ""})
    assert db.scalar(select(func.count()).select_from(Inquiry)) == 0
    (entry,) = logged(db, "callcenter.inquiries")
    assert summary(entry)[:6] == ("staff:cc1", "agent", "10.0.0.9", "", 302, "aborted")


def test_a_forwarded_header_from_an_untrusted_client_is_not_the_address(
    testapp,
    db,
    proxied_app,  # noqa: F811
):
    """Nothing trusts a client-set header: X-Forwarded-For from a client that is not our
    proxy is ignored; from our proxy, the client it names is the address."""
    make_user(db, "city", username="city")
    outside = client(testapp.app, "192.0.2.10", HTTP_X_FORWARDED_FOR="198.51.100.99")
    login_staff(outside, "city")
    behind = client(
        proxied_app,
        "10.0.0.1",  # our proxy
        HTTP_HOST="coupon.example.jp",
        HTTP_X_FORWARDED_FOR="203.0.113.66, 198.51.100.7",
        HTTP_REFERER="https://coupon.example.jp/login",
    )
    login_staff(behind, "city")
    assert [e.address for e in logged(db, "login")] == ["192.0.2.10", "198.51.100.7"]


def test_only_the_city_and_the_secretariat_read_the_log(testapp, db):
    """D-1: agents and store staff cannot read the log (page or API); the city and the
    secretariat can; the API filters by `since` and `actor` and refuses a bad `since`."""
    from tests.helpers import make_store

    make_store(db, "S0001")
    for role, username, address in (
        ("agent", "cc1", "10.0.0.9"),
        ("store", "store1", "10.0.0.8"),
    ):
        make_user(db, role, username=username, store_code="S0001" if role == "store" else None)
        browser = client(testapp.app, address)
        login_staff(browser, username)
        for path in (
            "/city/staff-actions",
            "/secretariat/staff-actions",
            "/api/v1/staff/audit-log",
        ):
            browser.get(path, status=403)
        if role == "store":  # store staff's actions are logged too: a void of a use not theirs
            post(browser, "/store/", "/store/redemptions/999999/void", status=404)
    (void,) = logged(db, "store.void")
    assert summary(void)[:6] == ("staff:store1", "store", "10.0.0.8", "id=999999", 404, "refused")
    for role, username in (("city", "city1"), ("secretariat", "sec1")):
        browser = staff_client(testapp, db, role, username, "10.0.0.3")
        assert "職員の操作記録" in browser.get(f"/{role}/staff-actions").text
        entries = browser.get("/api/v1/staff/audit-log", {"actor": "cc1"}).json["entries"]
        assert [(e["actor"], e["action"], e["label"], e["outcome"]) for e in entries] == [
            ("staff:cc1", "login", "ログイン", "done")
        ]
        assert entries[0]["address"] == "10.0.0.9" and entries[0]["record"] == "account=cc1"
    everything = browser.get("/api/v1/staff/audit-log").json["entries"]
    assert [(e["actor"], e["action"]) for e in everything] == [
        ("staff:cc1", "login"),
        ("staff:store1", "login"),
        ("staff:store1", "store.void"),
        ("staff:city1", "login"),
        ("staff:sec1", "login"),
    ]
    later = everything[-1]["at"]
    assert browser.get("/api/v1/staff/audit-log", {"since": later}).json["entries"] == [
        everything[-1]
    ]
    refused = browser.get("/api/v1/staff/audit-log", {"since": "yesterday"}, status=422)
    assert refused.json["error"] == "INVALID" and "ISO 8601" in refused.json["message"]
    bad = browser.get("/api/v1/staff/audit-log", {"actor": "a\x00b"}, status=422)
    assert bad.json["error"] == "INVALID"


def test_the_page_filters_by_actor_action_days_record_and_pages(testapp, db):
    """The city narrows the log by account, action, days (Japan time), record and outcome,
    fifty entries a page; input the form does not offer is refused in Japanese (422)."""
    start = dt.datetime(2024, 1, 15, 9, tzinfo=JST)
    for n in range(60):
        actions.record(
            db,
            start + dt.timedelta(hours=n),
            actions.Entry(
                actor="staff:sec1" if n % 2 else "staff:sec2",
                role="secretariat",
                address="10.0.0.5",
                action="secretariat.payout_action.submit",
                method="POST",
                record=f"id={n}",
                status=302,
            ),
        )
    db.commit()
    city = staff_client(testapp, db, "city", "city1", "10.0.0.7")
    url = "/city/staff-actions"
    first = city.get(url, {"action": "secretariat.payout_action"})
    assert "60件" in first.text and first.text.count("<tr class=") == 50
    older = city.get(url, {"action": "secretariat.payout_action", "page": "2"})
    assert older.text.count("<tr class=") == 10 and "id=0<" in older.text
    only = city.get(url, {"actor": "sec1", "record": "12"})  # sec1 has the odd ids
    assert "該当する記録はありません" in only.text
    only = city.get(url, {"actor": "sec1", "record": "id=13"})
    assert only.text.count("<tr class=") == 1 and "id=13<" in only.text
    # 2024-01-16 in Japan time: entries 15 .. 38 (09:00 on the 15th + n hours).
    day = city.get(url, {"from": "2024-01-16", "to": "2024-01-16", "action": "secretariat"})
    assert "24件" in day.text
    bad = city.get(url, {"from": "16/01/2024"}, status=422)
    assert "2024-01-15 の形で入力してください" in bad.text
    assert city.get(url, {"outcome": "maybe"}, status=422).status_code == 422


def test_the_export_and_the_commands(testapp, db, tmp_path, set_now):
    """C-2, D-1: `kariya export staff-actions` writes the log (text as string cells, the status
    as a number) and is itself an access record; a command that changes data is logged with
    the account it names and never its password, a refused one too."""
    set_now("2024-01-15T10:00:00+09:00")
    ini = write_cli_ini(tmp_path)
    created = run_cli(ini, "create-user", "--role", "agent", "--password", PASSWORD, "cc9")
    assert created.returncode == 0, created.stderr
    refused = run_cli(ini, "create-user", "--role", "agent", "--password", "short", "cc8")
    assert refused.returncode == 2
    made, failed = logged(db, "cli.create-user")
    assert (made.actor.startswith("cli:"), made.role, made.method) == (True, "batch", "CLI")
    assert made.address.startswith("cli:")
    assert (made.record, made.status, made.outcome) == ("account=cc9 role=agent", 200, "done")
    assert made.at == dt.datetime(2024, 1, 15, 10, tzinfo=JST)
    assert (failed.record, failed.status, failed.outcome) == (
        "account=cc8 role=agent",
        422,
        "refused",
    )
    assert PASSWORD not in made.record + made.detail

    desk = client(testapp.app, "10.0.0.21")
    login_staff(desk, "cc9", "wrong-password-x")
    out = tmp_path / "staff_actions.xlsx"
    result = run_cli(ini, "export", "staff-actions", "--out", str(out))
    assert result.returncode == 0, result.stderr
    rows = list(openpyxl.load_workbook(out).active.iter_rows())
    assert [c.value for c in rows[0]] == actions.HEADER
    assert len(rows) == 1 + 3
    login = rows[3]
    assert [c.value for c in login][:5] == [
        "2024-01-15 10:00:00",
        None,
        None,
        "10.0.0.21",
        "ログイン",
    ]
    assert login[7].value == "account=cc9" and login[7].data_type == "s"
    assert login[9].value == 200 and login[9].data_type == "n"
    assert {c.data_type for row in rows for c in row} <= {"s", "n"}
    from kariya.models import AccessRecord

    assert (
        db.scalar(select(AccessRecord.subject).where(AccessRecord.action == "export.staff-actions"))
        == "staff-actions"
    )


def test_payout_commands_are_logged_under_the_account_they_name(
    testapp,
    db,
    spent,  # noqa: F811
    tmp_path,
):
    """F-1: `kariya payouts build|submit|approve --as USER` are logged (the account and its
    role from --as, the batch, the machine's records linked); a refused step too."""
    make_user(db, "secretariat", username="sec1")
    make_user(db, "city", username="city1")
    ini = write_cli_ini(tmp_path)
    assert run_cli(ini, "payouts", "build").returncode == 0
    batch = db.scalar(select(PayoutBatch))
    as_city = run_cli(ini, "payouts", "submit", str(batch.id), "--as", "city1")
    assert as_city.returncode == 2  # a submission is the secretariat's
    assert run_cli(ini, "payouts", "submit", str(batch.id), "--as", "sec1").returncode == 0
    assert run_cli(ini, "payouts", "approve", str(batch.id), "--as", "city1").returncode == 0

    record = f"id={batch.id}"
    (built,) = logged(db, "cli.payouts.build")
    assert (built.actor.startswith("cli:"), built.outcome) == (True, "done")
    submits = logged(db, "cli.payouts.submit")
    assert [summary(e)[:2] + summary(e)[3:6] for e in submits] == [
        ("staff:city1", "city", record, 400, "refused"),
        ("staff:sec1", "secretariat", record, 200, "done"),
    ]
    (approved,) = logged(db, "cli.payouts.approve")
    assert summary(approved)[:2] + summary(approved)[3:6] == (
        "staff:city1",
        "city",
        record,
        200,
        "done",
    )
    assert ("payout", batch.id, "approve", "staff:city1") in linked(db, approved)


def test_the_log_is_append_only_on_postgresql(db):
    """The migration's trigger refuses UPDATE and DELETE, whoever asks."""
    actions.record(
        db,
        dt.datetime(2024, 1, 15, tzinfo=JST),
        actions.Entry("staff:city1", "city", "10.0.0.7", "city.halt", "POST"),
    )
    db.commit()
    assert db.get_bind().dialect.name == "postgresql"
    for statement in (
        sa.update(StaffAction).values(outcome="refused"),
        sa.delete(StaffAction),
    ):
        with pytest.raises(sa.exc.DBAPIError, match="append only"):
            db.execute(statement)
        db.rollback()
    assert [summary(e) for e in logged(db)] == [
        ("staff:city1", "city", "10.0.0.7", "", 200, "done", "")
    ]


def test_the_log_is_append_only_on_sqlite_too(tmp_path):
    from kariya.migrations import upgrade

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'k.sqlite'}")
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(StaffAction).values(
                at=dt.datetime(2024, 1, 15, tzinfo=dt.UTC),
                actor="staff:city1",
                role="city",
                address="-",
                action="city.halt",
                method="POST",
                record="",
                status=302,
                outcome="done",
                detail="",
                transition_ids="",
                transitions=0,
            )
        )
    for statement in (sa.update(StaffAction).values(outcome="refused"), sa.delete(StaffAction)):
        with pytest.raises(sa.exc.DBAPIError, match="append only"), engine.begin() as conn:
            conn.execute(statement)


def test_every_unsafe_route_is_named_in_japanese(app):
    """Every route that takes POST, PUT, PATCH or DELETE is an action with a Japanese label,
    or is said to change nothing (a new route arrives with its words)."""
    from pyramid.interfaces import IRoutesMapper

    mapper = app.registry.getUtility(IRoutesMapper)
    patterns = {route.name: route.pattern for route in mapper.get_routes()}
    unnamed = set()
    for view in app.registry.introspector.get_category("views"):
        found = view["introspectable"]
        route, methods = found["route_name"], found["request_methods"]
        if route is None or route.startswith("__") or methods is None:
            continue
        methods = {methods} if isinstance(methods, str) else set(methods)
        if not methods & UNSAFE or not is_action(route):
            continue
        if "{action:" in patterns[route]:
            choices = patterns[route].split("{action:")[1].split("}")[0].split("|")
            unnamed |= {f"{route}.{c}" for c in choices} - LABELS.keys()
        elif route not in LABELS:
            unnamed.add(route)
    assert unnamed == set()
