"""Withdrawal (DESIGN §5.1 `DELETE /api/v1/me`; D-1, I-2): personal data erased, the LINE user id
kept only as a keyed hash, the session ended, money records kept pseudonymous; the same LINE
account returning is a new person that still acquires once per round (I-2: "whatever it
tries"); the ledger check holds; the call centre sees 退会済み and nothing personal."""

import datetime as dt
import hashlib
import hmac
import threading

import pytest
import webtest
from sqlalchemy import func, select, text

from kariya.audit import ledger_check
from kariya.campaign import definition
from kariya.clock import FixedClock
from kariya.coupons import acquisition, ticker
from kariya.errors import DomainError
from kariya.models import Coupon, IdempotencyRecord, Person, TermsConsent
from kariya.redemptions import uses
from kariya.residents import withdrawal
from kariya.residents.options import AGE_BANDS, AREAS
from tests.functional.callcenter_support import MONDAY_10, new_inquiry, staff_app
from tests.helpers import (
    HASH_KEY,
    ROUND1,
    WITHDRAWAL_KEY,
    csrf_from,
    load_campaign,
    login_resident,
    make_person,
    make_store,
)

LINE_ID = "U" + "a" * 32


@pytest.fixture
def open_round(db, testapp, set_now):
    load_campaign(db, total=60_000, rounds=6)
    testapp.put_json("/dev/clock", {"now": MONDAY_10.isoformat(), "frozen": True})  # the tick
    set_now(MONDAY_10)


def fresh(app) -> webtest.TestApp:
    """Another browser: its own cookies."""
    return webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.0.0.9"})


def acquire(app, token, status):
    return app.post("/api/v1/acquisitions", headers={"X-CSRF-Token": token}, status=status)


def person_of(db, line_user_id: str) -> Person:
    db.expire_all()
    return db.scalar(select(Person).where(Person.line_user_id == line_user_id))


def ledger_ok(db) -> bool:
    db.expire_all()
    report = ledger_check.check(db, definition.latest(db))
    assert report.problems == []
    return report.ok


def test_withdrawal_erases_the_personal_data_and_ends_the_session(testapp, db, open_round):
    token = login_resident(testapp, LINE_ID)
    acquire(testapp, token, 201)
    testapp.post(
        "/api/v1/acquisitions",
        headers={"X-CSRF-Token": token, "Idempotency-Key": "k1"},
        status=409,
    )
    before = person_of(db, LINE_ID)
    ref, pid = before.ref, before.id
    copied_cookie = testapp.cookies["kariya_session"]

    response = testapp.delete("/api/v1/me", headers={"X-CSRF-Token": token}, status=204)
    assert response.body == b""

    db.expire_all()
    gone = db.get(Person, pid)
    assert gone.withdrawn_at == MONDAY_10
    assert (gone.display_name, gone.age_band, gone.area, gone.terms_version) == (
        "",
        None,
        None,
        None,
    )
    assert gone.line_user_id == f"withdrawn:{ref}" and gone.ref == ref  # person_ref stays
    assert LINE_ID not in repr(db.execute(select(Person.__table__)).all())
    assert db.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0
    # The consent keeps only the version and the time; the money records stay, pseudonymous.
    (consent,) = db.scalars(select(TermsConsent).where(TermsConsent.person_id == pid))
    assert consent.version == 1
    assert db.scalar(select(func.count()).select_from(Coupon).where(Coupon.person_id == pid)) == 4
    # The session has ended: this browser and a copy of its cookie are logged out (401).
    assert testapp.get("/api/v1/me", status=401).json["error"] == "UNAUTHENTICATED"
    copy = fresh(testapp.app)
    copy.set_cookie("kariya_session", copied_cookie)
    copy.get("/api/v1/me", status=401)
    assert ledger_ok(db)


def test_the_hash_is_keyed_not_the_sha256_of_the_id(testapp, db, open_round):
    """D-1: SHA-256 of a LINE id is computable by anyone holding the id (the LINE user ids of
    a city's friends are no secret to LINE or a leaked list); HMAC under our key is not."""
    token = login_resident(testapp, LINE_ID)
    testapp.delete("/api/v1/me", headers={"X-CSRF-Token": token}, status=204)
    stored = db.scalar(select(Person.line_hash).where(Person.withdrawn_at.is_not(None)))
    assert stored == hmac.new(WITHDRAWAL_KEY.encode(), LINE_ID.encode(), "sha256").hexdigest()
    assert stored != hashlib.sha256(LINE_ID.encode()).hexdigest()
    assert stored != withdrawal.line_hash(b"another-key", LINE_ID)


def test_withdrawal_needs_the_csrf_token_and_a_resident(testapp, db, open_round):
    token = login_resident(testapp, LINE_ID)
    refused = testapp.delete("/api/v1/me", status=403)
    assert refused.json["error"] == "CSRF"
    assert not person_of(db, LINE_ID).withdrawn
    fresh(testapp.app).delete("/api/v1/me", status=401)  # no session
    assert testapp.get("/api/v1/me").json["csrf_token"] == token  # still logged in


def test_returning_is_a_new_person_who_cannot_acquire_twice_in_the_round(testapp, db, open_round):
    """I-2: withdraw, log in again with the same LINE account, try again: refused in round 1
    (also for a second return, through the record of the first), allowed in round 2."""
    token = login_resident(testapp, LINE_ID)
    acquire(testapp, token, 201)
    first = person_of(db, LINE_ID)
    testapp.delete("/api/v1/me", headers={"X-CSRF-Token": token}, status=204)

    token = login_resident(testapp, LINE_ID)
    second = person_of(db, LINE_ID)
    assert second.id != first.id and second.ref != first.ref
    assert second.returned_from_id == first.id and not second.withdrawn
    assert testapp.get("/api/v1/me").json["ref"] == second.ref
    status = testapp.get("/api/v1/rounds/current").json
    assert (status["can_acquire"], status["reason"]) == (False, "ALREADY_ACQUIRED")
    assert acquire(testapp, token, 409).json["error"] == "ALREADY_ACQUIRED"

    # A second withdrawal and return: the third record is still linked to the first's round.
    testapp.delete("/api/v1/me", headers={"X-CSRF-Token": token}, status=204)
    token = login_resident(testapp, LINE_ID)
    third = person_of(db, LINE_ID)
    assert third.returned_from_id == second.id
    assert acquire(testapp, token, 409).json["error"] == "ALREADY_ACQUIRED"
    # Someone else is not affected.
    other = fresh(testapp.app)
    acquire(other, login_resident(other, "U" + "b" * 32), 201)

    testapp.put_json("/dev/clock", {"now": (MONDAY_10 + dt.timedelta(weeks=1)).isoformat()})
    assert testapp.get("/api/v1/rounds/current").json["can_acquire"] is True
    assert acquire(testapp, token, 201).json["round"] == 2
    assert acquire(testapp, token, 409).json["error"] == "ALREADY_ACQUIRED"
    assert ledger_ok(db)


def test_unused_coupons_stay_issued_unusable_and_expire_with_the_round(testapp, db, open_round):
    """The rules: "退会した後は、受け取った割引券は使えません" (the terms); unused coupons are
    outstanding until their round ends, then expire and roll over (I-4) like anyone's."""
    store = make_store(db, "S0001", "かりや青果店")
    token = login_resident(testapp, LINE_ID)
    acquire(testapp, token, 201)
    pid = person_of(db, LINE_ID).id
    other = fresh(testapp.app)
    other.post_json("/dev/line-login", {"line_user_id": LINE_ID, "display_name": "市民"})
    other_token = other.get("/api/v1/me").json["csrf_token"]
    testapp.delete("/api/v1/me", headers={"X-CSRF-Token": token}, status=204)

    # A session that outlived the withdrawal (another browser) can neither use nor acquire.
    refused = other.post_json(
        "/api/v1/redemptions",
        {"store_token": store.qr_token, "coupons": 1, "bill_amount": 1500},
        headers={"X-CSRF-Token": other_token},
        status=401,
    )
    assert refused.json["error"] == "UNAUTHENTICATED" and "退会" in refused.json["message"]
    assert acquire(other, other_token, 401).json["error"] == "UNAUTHENTICATED"
    other.get("/api/v1/me", status=401)
    with pytest.raises(DomainError) as caught:
        uses.redeem(db, FixedClock(MONDAY_10), pid, store.qr_token, 1, 1500)
    assert caught.value.code == "UNAUTHENTICATED"
    db.rollback()
    states = lambda: db.scalars(select(Coupon.state).where(Coupon.person_id == pid)).all()  # noqa: E731
    assert states() == ["issued"] * 4
    assert ledger_ok(db)

    ticker.run_due(db, FixedClock(ROUND1 + dt.timedelta(weeks=1, seconds=1)), actor="test")
    db.commit()
    db.expire_all()
    assert states() == ["expired"] * 4
    assert ledger_ok(db)


def test_a_claim_and_a_withdrawal_at_once_never_give_the_account_two_packs(
    db, session_factory, open_round
):
    """I-2 under a race: the withdrawal holds the person row (FOR UPDATE) while a claim of the
    same person is under way; the claim waits, then sees the withdrawal and is refused, so the
    returning record's check cannot miss an acquisition committed late."""
    person = make_person(db, 7)
    holder = session_factory()
    holder.execute(text("SELECT 1"))  # begin
    withdrawal.withdraw(holder, FixedClock(MONDAY_10), person.id, HASH_KEY)  # row locked
    outcome = {}

    def claim():
        worker = session_factory()
        try:
            acquisition.acquire(worker, FixedClock(MONDAY_10), person.id)
            worker.commit()
            outcome["result"] = "acquired"
        except DomainError as exc:
            worker.rollback()
            outcome["result"] = exc.code
        finally:
            worker.close()

    thread = threading.Thread(target=claim)
    thread.start()
    thread.join(timeout=1.0)
    assert thread.is_alive(), "the claim waits for the withdrawal's lock"
    holder.commit()
    holder.close()
    thread.join(timeout=10)
    assert outcome == {"result": "UNAUTHENTICATED"}
    assert db.scalar(select(func.count()).select_from(Coupon)) == 0
    assert ledger_ok(db)


def test_the_call_centre_sees_a_withdrawn_resident_as_such_and_nothing_personal(
    testapp, db, app, open_round
):
    resident = fresh(app)
    token = login_resident(resident, LINE_ID)
    acquire(resident, token, 201)
    ref = person_of(db, LINE_ID).ref
    resident.delete("/api/v1/me", headers={"X-CSRF-Token": token}, status=204)

    agent = staff_app(testapp, db, "agent")
    inquiry = new_inquiry(testapp, agent, person_ref=ref)["id"]
    found = testapp.get("/api/v1/staff/residents", {"q": ref, "inquiry": inquiry}).json
    assert found == {"residents": [{"person_ref": ref, "display_name": ""}]}
    record = testapp.get(f"/api/v1/staff/residents/{ref}", {"inquiry": inquiry}).json
    assert (record["display_name"], record["profile"]) == ("", None)
    assert [r["round"] for r in record["rounds"]] == [1]  # the money records stay
    assert testapp.get("/api/v1/staff/residents", {"q": "市民", "inquiry": inquiry}).json == {
        "residents": []
    }
    page = testapp.get(f"/callcenter/inquiries/{inquiry}", {"q": ref}).text
    listed = page.split('id="people"')[1].split("</ul>")[0]
    assert "退会済み" in listed
    shown = page.split('id="resident"')[1].split('<ol class="timeline"')[0]
    assert "退会済み" in shown and "市民" not in shown
    assert AGE_BANDS["70s"] not in shown and AREAS["kariya"] not in shown
    assert "退会しました" in page.split('id="timeline"')[1]
    assert "本人確認して移行を申請" not in page  # a withdrawn record moves nowhere


def test_the_help_page_leads_to_a_clear_confirmation_then_withdraws(testapp, db, open_round):
    token = login_resident(testapp, LINE_ID)
    acquire(testapp, token, 201)
    help_page = testapp.get("/help")
    assert "退会の手続きへ" in help_page.text
    confirm = help_page.click(href="/withdraw")
    assert "退会する" in confirm.text and "退会しないで戻る" in confirm.text
    assert "まだ使っていない割引券が<strong>4枚</strong>" in confirm.text
    assert not person_of(db, LINE_ID).withdrawn  # looking changes nothing
    testapp.post("/withdraw", {}, status=403)  # no CSRF token: refused, nothing done
    assert not person_of(db, LINE_ID).withdrawn
    done = testapp.post("/withdraw", {"csrf_token": csrf_from(confirm.text)}, status=302)
    assert done.location.endswith("/withdrawn")
    assert "退会しました" in done.follow().text
    db.expire_all()
    assert (
        db.scalar(select(func.count()).select_from(Person).where(Person.withdrawn_at.is_not(None)))
        == 1
    )
    testapp.get("/api/v1/me", status=401)
