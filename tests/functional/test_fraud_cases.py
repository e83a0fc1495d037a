"""Fraud cases and the money (issue 15, I-10, F-1, F-5): a burst of uses at a store opens one
case; while the secretariat reviews it the store's payout lines are held with the reason shown
and stay out of the Zengin file until the city clears it; a confirmed case ends in an adjustment
approved by someone else; the ledger check passes at every step."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from kariya.audit import ledger_check
from kariya.clock import FixedClock
from kariya.coupons import acquisition, ticker
from kariya.fraud import scan
from kariya.ledger import postings
from kariya.models import (
    AccessRecord,
    Campaign,
    FraudCase,
    PayoutAdjustment,
    PayoutBatch,
    PayoutHold,
    PayoutLine,
    StaffUser,
    Store,
)
from kariya.payouts import reconciliation, zengin
from kariya.redemptions import uses
from kariya.settings import parse
from kariya.staff import accounts
from tests.functional.test_payouts import post
from tests.helpers import PASSWORD, ROUND1, load_campaign, login_staff, make_person, make_store

SETTINGS = parse({"kariya.session_secret": "test-session-secret"})
AFTER = ROUND1 + dt.timedelta(days=1, hours=10)  # 16 January: the period 1-15 January ended
REASON = "利用内容の確認中のため保留(案件 No.1)"  # the store reads it on its statement too


def _check(db):
    db.expire_all()
    report = ledger_check.check(db, db.scalar(select(Campaign)))
    assert report.ok, report.text()
    totals = reconciliation.report(db, db.scalar(select(Campaign)))["total"]
    assert (
        totals["redeemed"] + totals["adjusted"]
        == totals["paid"] + totals["approved"] + totals["pending"]
    )
    return report


def _with_account(store, n: int):
    store.bank_code, store.branch_code, store.account_type = "0001", "004", "普通"
    store.account_number, store.account_holder_kana = f"{n:07d}", "カリヤセイカテン"


@pytest.fixture
def watched(db, set_now):
    """Round 1: ten residents use two coupons each at S0001 within five minutes (a burst);
    one uses two at S0002. The scan of the next day opens case No.1 for S0001."""
    load_campaign(db, total=240_000, rounds=6)
    burst_store, other = (
        make_store(db, "S0001", "かりや青果店"),
        make_store(db, "S0002", "喫茶みなと"),
    )
    _with_account(burst_store, 1)
    _with_account(other, 2)
    db.commit()
    opening = ROUND1.replace(hour=10)
    ticker.run_due(db, FixedClock(opening), actor="test")
    for n in range(11):
        person = make_person(db, n)
        moment = FixedClock(opening + dt.timedelta(seconds=25 * n))
        acquisition.acquire(db, moment, person.id)
        store = burst_store if n < 10 else other
        uses.redeem(db, moment, person.id, store.qr_token, 2, 2500)
        db.commit()
    set_now(AFTER)
    result = scan.run(db, FixedClock(AFTER), SETTINGS)
    db.commit()
    assert [(c.rule, c.store_id) for c in result.opened] == [("burst", burst_store.id)]
    return burst_store, other


_HASH: list[str] = []


def staff_app(testapp, db, role: str, username: str):
    """A logged-in staff session; the account's password hash is computed once per run (each
    Argon2id hash costs most of a second here)."""
    if not _HASH:
        _HASH.append(accounts.hash_password(PASSWORD))
    db.add(
        StaffUser(
            username=username,
            display_name=username,
            password_hash=_HASH[0],
            role=role,
            active=True,
            created_at=ROUND1,
        )
    )
    db.commit()
    app = testapp.__class__(testapp.app, extra_environ={"HTTP_HOST": "localhost"})
    login_staff(app, username, PASSWORD)
    return app


def _apps(testapp, db, *, second_city: bool = False):
    """The secretariat's and the city's sessions (and a second city official's)."""
    apps = [staff_app(testapp, db, "secretariat", "sec1"), staff_app(testapp, db, "city", "city1")]
    return (*apps, staff_app(testapp, db, "city", "city2") if second_city else None)


def _event(app, role, case_id, fields, status=302):
    return post(app, f"/{role}/fraud/{case_id}", f"/{role}/fraud/{case_id}/events", fields, status)


def _zengin_amounts(secretariat, batch_id):
    body = secretariat.get(f"/secretariat/payouts/{batch_id}/zengin.txt").body
    return sorted(r["amount"] for r in zengin.parse(body).records)


def _run_batch(secretariat, city, db):
    """Build, submit, approve (someone else) and export the batch of 1-15 January."""
    post(secretariat, "/secretariat/payouts", "/secretariat/payouts/build")
    batch = db.scalars(select(PayoutBatch).order_by(PayoutBatch.id.desc())).first()
    for action, app in (("submit", secretariat), ("approve", city), ("export", secretariat)):
        role = "city" if app is city else "secretariat"
        post(app, f"/{role}/payouts/{batch.id}", f"/{role}/payouts/{batch.id}/{action}")
    db.expire_all()
    return db.get(PayoutBatch, batch.id)


def test_one_case_per_store_holds_its_payouts_out_of_the_zengin_file_until_cleared(
    testapp, db, watched
):
    burst_store, other = watched
    secretariat, city, _city2 = _apps(testapp, db)
    case = db.scalar(select(FraudCase))
    assert (case.state, case.subject) == ("flagged", f"store:{burst_store.id}")
    _check(db)

    # The secretariat reviews: the store's payments are held.
    _event(secretariat, "secretariat", case.id, {"event": "review", "note": "電話で確認する"})
    db.expire_all()
    assert db.get(FraudCase, case.id).state == "under_review"
    assert db.scalar(select(PayoutHold.reason).where(PayoutHold.released_at.is_(None))) == REASON

    batch = _run_batch(secretariat, city, db)
    lines = {line.store_id: line for line in batch.lines}
    assert (lines[burst_store.id].status, lines[burst_store.id].reason) == ("held", REASON)
    assert lines[other.id].status == "included"
    assert _zengin_amounts(secretariat, batch.id) == [1_000]  # S0002 only, never the held line
    page = secretariat.get(f"/secretariat/payouts/{batch.id}")
    assert REASON in page.text  # the reason is shown with the line
    _check(db)

    # The city clears the case: the hold is lifted and the next batch pays the store.
    _event(city, "city", case.id, {"event": "clear", "note": "朝市の開店直後の行列と確認"})
    db.expire_all()
    assert db.get(FraudCase, case.id).state == "cleared"
    assert db.scalar(select(func.count()).select_from(PayoutHold).where(PayoutHold.released_at.is_(None))) == 0  # fmt: skip
    _check(db)
    second = _run_batch(secretariat, city, db)
    assert [(line.store_id, line.status) for line in second.lines] == [(burst_store.id, "included")]
    assert _zengin_amounts(secretariat, second.id) == [10_000]
    _check(db)


def test_a_draft_line_held_for_review_is_paid_after_all_once_cleared(testapp, db, watched):
    burst_store, _other = watched
    secretariat, city, _city2 = _apps(testapp, db)
    post(secretariat, "/secretariat/payouts", "/secretariat/payouts/build")
    batch = db.scalar(select(PayoutBatch))
    line = db.scalar(select(PayoutLine).where(PayoutLine.store_id == burst_store.id))
    assert line.status == "included"

    _event(secretariat, "secretariat", 1, {"event": "review"})
    db.expire_all()
    assert (db.get(PayoutLine, line.id).status, db.get(PayoutLine, line.id).reason) == (
        "held",
        REASON,
    )
    _check(db)  # the held line carries no active item
    _event(city, "city", 1, {"event": "clear", "note": "問題なし"})
    db.expire_all()
    line = db.get(PayoutLine, line.id)
    assert (line.status, line.count, line.amount, line.reason) == ("included", 10, 10_000, "")
    _check(db)
    assert db.get(PayoutBatch, batch.id).state == "draft"


def test_a_line_of_an_approved_batch_is_held_before_the_file_is_written(testapp, db, watched):
    burst_store, _other = watched
    secretariat, city, _city2 = _apps(testapp, db)
    post(secretariat, "/secretariat/payouts", "/secretariat/payouts/build")
    batch = db.scalar(select(PayoutBatch))
    post(secretariat, f"/secretariat/payouts/{batch.id}", f"/secretariat/payouts/{batch.id}/submit")
    post(city, f"/city/payouts/{batch.id}", f"/city/payouts/{batch.id}/approve")
    assert postings.balance(db, postings.PAYABLE) == 11_000
    page = _event(secretariat, "secretariat", 1, {"event": "review"}).follow()
    assert f"支払バッチ No.{batch.id}(承認済み)の10,000円を保留にしました。" in page.text
    assert postings.balance(db, postings.PAYABLE) == 1_000  # moved back: payable -> used
    _check(db)
    post(secretariat, f"/secretariat/payouts/{batch.id}", f"/secretariat/payouts/{batch.id}/export")
    assert _zengin_amounts(secretariat, batch.id) == [1_000]
    _check(db)


def test_a_confirmed_case_ends_in_an_adjustment_approved_by_someone_else(testapp, db, watched):
    burst_store, _other = watched
    secretariat, city, city2 = _apps(testapp, db, second_city=True)
    _event(secretariat, "secretariat", 1, {"event": "review"})
    _event(
        city, "city", 1, {"event": "confirm", "note": "店主が集めた携帯で読み取り", "amount": ""}
    )
    db.expire_all()
    case = db.get(FraudCase, 1)
    adjustment = db.get(PayoutAdjustment, case.adjustment_id)
    assert (case.state, case.decided_by) == ("confirmed", "staff:city1")
    assert (adjustment.amount, adjustment.state, adjustment.proposed_by) == (
        -10_000,
        "proposed",
        "staff:city1",
    )
    assert "案件 No.1" in adjustment.reason
    hold = db.scalar(select(PayoutHold))
    assert hold.released_at is None and hold.adjustment_id == adjustment.id  # still held
    _check(db)

    # Four eyes: the official who confirmed cannot approve the deduction; another can.
    page = post(city, "/city/adjustments", f"/city/adjustments/{adjustment.id}/approve", status=403)
    assert "ダブルチェック" in page.text
    post(city2, "/city/adjustments", f"/city/adjustments/{adjustment.id}/approve")
    db.expire_all()
    assert db.get(PayoutAdjustment, adjustment.id).state == "approved"
    assert db.get(PayoutHold, hold.id).released_at is not None  # decided: the hold is lifted
    _check(db)

    # The deduction meets the store's takings in its next batch: nothing is paid to it.
    post(secretariat, "/secretariat/payouts", "/secretariat/payouts/build")
    line = db.scalar(select(PayoutLine).where(PayoutLine.store_id == burst_store.id))
    assert (line.status, line.amount) == ("held", 0)
    assert "差し引く調整額" in line.reason
    _check(db)
    # No use was edited: the ten uses stand as they were.
    assert db.scalar(select(func.count()).select_from(PayoutLine)) == 2


def test_a_deduction_is_never_more_than_the_evidence_and_a_decision_needs_a_reason(
    testapp, db, watched
):
    secretariat, city, _city2 = _apps(testapp, db)
    _event(secretariat, "secretariat", 1, {"event": "review"})
    page = _event(city, "city", 1, {"event": "confirm", "note": "x", "amount": "20000"}, 422)
    assert "証拠の利用額 10,000円 を超えて" in page.text and "何も変更していません" in page.text
    page = _event(city, "city", 1, {"event": "clear", "note": ""}, 422)
    assert "判断の理由を入力してください" in page.text
    db.expire_all()
    assert db.get(FraudCase, 1).state == "under_review"
    assert db.scalar(select(func.count()).select_from(PayoutAdjustment)) == 0
    # A deduction of part of it, given in full-width digits.
    _event(city, "city", 1, {"event": "confirm", "note": "一部のみ", "amount": "４，０００"})
    db.expire_all()
    assert db.scalar(select(PayoutAdjustment.amount)) == -4_000
    _check(db)


def test_each_role_has_its_own_buttons(testapp, db, watched):
    secretariat, city, _city2 = _apps(testapp, db)
    page = secretariat.get("/secretariat/fraud/1")
    assert 'id="review"' in page.text and 'id="confirm"' not in page.text
    assert city.get("/city/fraud/1").text.count('id="confirm"') == 0  # not yet reviewed
    # The city cannot review; the secretariat cannot decide (the route and the service both).
    post(city, "/city/fraud/1", "/secretariat/fraud/1/events", {"event": "review"}, status=403)
    _event(secretariat, "secretariat", 1, {"event": "review"})
    post(secretariat, "/secretariat/fraud/1", "/city/fraud/1/events", {"event": "clear", "note": "x"}, status=403)  # fmt: skip
    page = city.get("/city/fraud/1")
    assert 'id="confirm"' in page.text and 'id="clear"' in page.text
    assert 'value="10000"' in page.text  # the deduction offered: the evidence's takings
    agent = staff_app(testapp, db, "agent", "agent1")
    agent.get("/secretariat/fraud", status=403)
    agent.get("/api/v1/staff/fraud-cases", status=403)


def test_the_pages_show_the_evidence_and_the_history_and_record_the_look(testapp, db, watched):
    burst_store, _other = watched
    secretariat, city, _city2 = _apps(testapp, db)
    listing = secretariat.get("/secretariat/fraud")
    assert listing.text.count('class="fraud-case"') == 1
    assert "短時間の集中利用" in listing.text and "5分間に最大10件の利用" in listing.text
    _event(secretariat, "secretariat", 1, {"event": "review", "note": "店に電話"})
    page = city.get("/city/fraud/1")
    assert page.text.count('class="evidence-use"') == 10
    assert "かりや青果店" in page.text and "調査中" in page.text
    assert "検知" in page.text and "調査を開始" in page.text and "店に電話" in page.text
    assert REASON in page.text  # the store's payments: held, and why
    assert city.get("/city/fraud?state=closed").text.count('class="fraud-case"') == 0
    scanned = post(secretariat, "/secretariat/fraud", "/secretariat/fraud/scan").follow()
    assert "検知の実行を依頼しました" in scanned.text  # the task ran: nothing new, one case
    assert scanned.text.count('class="fraud-case"') == 1
    looks = db.scalars(select(AccessRecord).where(AccessRecord.action == "fraud.view")).all()
    assert {(a.actor, a.subject) for a in looks} >= {("staff:city1", "fraud_case:1")}


def test_a_resident_case_changes_no_money(db, watched, testapp):
    from kariya.fraud.findings import Finding

    secretariat, city, _city2 = _apps(testapp, db)
    person = make_person(db, 99)
    case, opened = scan.apply(
        db,
        db.scalar(select(Campaign.id)),
        "far_apart",
        Finding("person", person.id, {"use:1"}, {"pairs": [], "count": 0, "limit": 5}, {1}),
        now=FixedClock(AFTER).now(),
        actor="test",
    )
    db.commit()
    assert opened and case.person_id == person.id
    _event(secretariat, "secretariat", case.id, {"event": "review"})
    _event(city, "city", case.id, {"event": "confirm", "note": "本人確認済み"})
    db.expire_all()
    assert db.get(FraudCase, case.id).state == "confirmed"
    assert db.scalar(select(func.count()).select_from(PayoutHold)) == 0
    assert db.scalar(select(func.count()).select_from(PayoutAdjustment)) == 0
    _check(db)


def test_the_dashboard_counts_flags_per_rule(testapp, db, watched):
    city = staff_app(testapp, db, "city", "city1")
    post(city, "/city/dashboard", "/city/dashboard/refresh")
    page = city.get("/city/dashboard")
    assert 'id="fraud"' in page.text and page.text.count('class="fraud-rule"') == 10
    body = city.get("/api/v1/staff/dashboard").json
    burst = next(r for r in body["fraud"] if r["rule"] == "burst")
    assert burst == {
        "rule": "burst",
        "raised": 1,
        "flagged": 1,
        "under_review": 0,
        "confirmed": 0,
        "cleared": 0,
    }
    assert {"as_of", "funds", "rounds", "residents", "payouts", "stores"} <= set(body)
    assert db.scalar(select(Store.id).where(Store.code == "S0001"))
