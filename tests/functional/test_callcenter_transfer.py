"""A lost phone or a new LINE account (issue 12, item 7): the agent checks the caller's identity
on the inquiry and requests the transfer; a city approver approves (four eyes); the current
round's unused coupons and the history move to the new record in the ledger's terms (`kariya
ledger check` holds), the old record is blocked from logging in, acquiring and using; every step
is in the access log (D-1)."""

import datetime as dt

import pytest
import webtest
from sqlalchemy import func, select

from kariya.clock import FixedClock
from kariya.coupons import acquisition, ticker
from kariya.documents import consent
from kariya.errors import DomainError
from kariya.models import (
    AccessRecord,
    Acquisition,
    Coupon,
    InquiryEvent,
    LedgerEntry,
    Person,
    PersonTransfer,
    Redemption,
)
from kariya.residents import refs
from tests.functional.callcenter_support import MONDAY_10, new_inquiry, staff_app, world
from tests.helpers import csrf_from, make_person, make_store, run_cli, write_cli_ini


@pytest.fixture
def lost(testapp, db, set_now):
    """Resident 1 used 2 of round 1's coupons at 12:30 and lost the phone; resident 2 is the
    same person's new LINE account, logged in once (no profile yet). An agent has the call."""
    set_now(MONDAY_10.replace(hour=14))
    w = world(db)
    new = make_person(db, 2, profile=False)
    agent = staff_app(testapp, db, "agent")
    inquiry = new_inquiry(
        testapp, agent, category="lost_phone", subject="機種変更", person_ref=w.person.ref
    )["id"]
    return w, new, inquiry


def other_app(app, address="10.0.0.4"):
    return webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": address})


def ask(testapp, inquiry, new_ref, **said):
    page = testapp.get(f"/callcenter/inquiries/{inquiry}")
    form = {"csrf_token": csrf_from(page.text), "new_ref": new_ref, **said}
    return testapp.post(f"/callcenter/inquiries/{inquiry}/transfer", form).follow()


def journal(db, inquiry):
    db.expire_all()
    return [
        e.note
        for e in db.scalars(
            select(InquiryEvent).where(InquiryEvent.inquiry_id == inquiry).order_by(InquiryEvent.id)
        )
    ]


def test_a_failed_identity_check_is_recorded_and_requests_nothing(testapp, db, lost):
    w, new, inquiry = lost
    page = ask(testapp, inquiry, new.ref, age_band="70s", area="other", codes="ZZZZZZ")
    assert "本人確認ができなかったため" in page.text
    check = journal(db, inquiry)[-1]
    assert "年代: 70代(一致)" in check and "(不一致)" in check
    assert "ZZZZZZ(不一致)" in check and "結果: 本人確認できませんでした" in check
    assert db.scalar(select(func.count()).select_from(PersonTransfer)) == 0


def test_the_transfer_moves_coupons_and_history_after_the_citys_approval(
    testapp, db, app, lost, tmp_path, set_now
):
    w, new, inquiry = lost
    old_session = other_app(app, "10.0.0.9")
    old_session.post_json("/dev/line-login", {"line_user_id": w.person.line_user_id})
    old_token = old_session.get("/api/v1/me").json["csrf_token"]

    page = ask(
        testapp, inquiry, refs.display(new.ref), age_band="70s", area="kariya", codes=w.code.lower()
    )
    assert "を申請しました" in page.text
    transfer = db.scalar(select(PersonTransfer))
    assert transfer.state == "requested" and transfer.requested_by == "staff:agent"
    assert "結果: 本人確認できました" in transfer.identity_check
    # Four eyes: the agent cannot approve (403, logged); only a city approver can.
    token = csrf_from(page.text)
    testapp.post(
        f"/city/callcenter/transfers/{transfer.id}/approve", {"csrf_token": token}, status=403
    )

    set_now(MONDAY_10.replace(hour=15))
    city = other_app(app)
    staff_app(city, db, "city")
    review = city.get(f"/city/callcenter/transfers/{transfer.id}")
    assert "結果: 本人確認できました" in review.text
    db.expire_all()
    reviewed = db.execute(
        select(AccessRecord.subject, AccessRecord.inquiry_id).where(
            AccessRecord.action == "resident.view", AccessRecord.actor == "staff:city"
        )
    ).all()
    assert sorted(reviewed) == sorted([(w.person.ref, inquiry), (new.ref, inquiry)])
    assert "回答待ち" in city.get("/city/").text and f"No.{transfer.id}" in city.get("/city/").text
    city.post(
        f"/city/callcenter/transfers/{transfer.id}/approve",
        {"csrf_token": csrf_from(review.text), "note": "本人確認を確認"},
    )
    db.expire_all()
    assert db.get(PersonTransfer, transfer.id).state == "approved"
    old = db.get(Person, w.person.id)
    new = db.get(Person, new.id)
    assert old.blocked_at is not None and old.successor_id == new.id
    # The coupons (2 unused of round 1, 2 used), the acquisition and the use are the new record's.
    by_state = dict(
        db.execute(
            select(Coupon.state, func.count())
            .where(Coupon.person_id == new.id)
            .group_by(Coupon.state)
        ).all()
    )
    assert by_state == {"issued": 2, "used": 2}
    for model in (Coupon, Acquisition, Redemption):
        count = select(func.count()).select_from(model).where(model.person_id == old.id)
        assert db.scalar(count) == 0
    assert (new.age_band, new.area) == ("70s", "kariya")  # the profile came along
    # In the ledger, and the ledger still holds (the money stays outstanding in round 1).
    entry = db.scalar(select(LedgerEntry).where(LedgerEntry.kind == "transfer"))
    assert entry.ref == f"transfer:{transfer.id}:round:1" and "未使用2枚 1,000円" in entry.memo
    checked = run_cli(write_cli_ini(tmp_path), "ledger", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # In the access log: both records, at the request and at the approval.
    db.expire_all()
    logged = db.execute(
        select(AccessRecord.action, AccessRecord.subject, AccessRecord.actor).where(
            AccessRecord.action.like("transfer.%")
        )
    ).all()
    assert sorted(logged) == sorted(
        [
            ("transfer.request", w.person.ref, "staff:agent"),
            ("transfer.request", new.ref, "staff:agent"),
            ("transfer.approve", w.person.ref, "staff:city"),
            ("transfer.approve", new.ref, "staff:city"),
        ]
    )
    assert "を承認し、実行しました" in journal(db, inquiry)[-1]

    # The old record can no longer log in, nor use what it may still have in an old session.
    refused = old_session.post_json(
        "/dev/line-login", {"line_user_id": w.person.line_user_id}, status=403
    )
    assert refused.json["error"] == "ACCOUNT_MOVED"
    use = {"store_token": w.store.qr_token, "coupons": 1, "bill_amount": 1000}
    blocked = old_session.post_json(
        "/api/v1/redemptions", use, headers={"X-CSRF-Token": old_token}, status=403
    )
    assert blocked.json["error"] == "ACCOUNT_MOVED"
    # The new account uses the moved coupons, and may not acquire round 1 a second time (I-2).
    phone = other_app(app, "10.0.0.10")
    phone.post_json("/dev/line-login", {"line_user_id": new.line_user_id})
    token = phone.get("/api/v1/me").json["csrf_token"]
    again = phone.post("/api/v1/acquisitions", headers={"X-CSRF-Token": token}, status=409)
    assert again.json["error"] == "ALREADY_ACQUIRED"
    # The per-store counter came along too: S0001 has had its 2 coupons this round (I-5).
    limit = phone.post_json("/api/v1/redemptions", use, headers={"X-CSRF-Token": token}, status=422)
    assert limit.json["error"] == "STORE_LIMIT"
    other = make_store(db, "S0002", "喫茶みなと")
    elsewhere = {**use, "store_token": other.qr_token}
    phone.post_json("/api/v1/redemptions", elsewhere, headers={"X-CSRF-Token": token}, status=201)
    assert run_cli(write_cli_ini(tmp_path), "ledger", "check").returncode == 0


def test_the_old_record_cannot_acquire_a_later_round(testapp, db, app, lost, set_now):
    w, new, inquiry = lost
    ask(testapp, inquiry, new.ref, age_band="70s", area="kariya", codes=w.code)
    transfer = db.scalar(select(PersonTransfer))
    city = other_app(app)
    staff_app(city, db, "city")
    review = city.get(f"/city/callcenter/transfers/{transfer.id}")
    city.post(
        f"/city/callcenter/transfers/{transfer.id}/approve", {"csrf_token": csrf_from(review.text)}
    )

    week2 = FixedClock(dt.datetime.fromisoformat("2024-01-22T10:00:00+09:00"))
    ticker.run_due(db, week2, actor="test")
    db.commit()
    with pytest.raises(DomainError) as refused:
        acquisition.acquire(db, week2, w.person.id)
    assert refused.value.code == "ACCOUNT_MOVED"
    db.rollback()
    assert not consent.needs_consent(db, new.id)  # the old record's agreement came along
    assert acquisition.acquire(db, week2, new.id)["round"] == 2


def test_no_transfer_to_an_account_that_acquired_the_same_round(testapp, db, lost):
    w, new, inquiry = lost

    consent.save_profile(db, FixedClock(MONDAY_10), new, "70s", "kariya", agreed_terms=1)
    acquisition.acquire(db, FixedClock(MONDAY_10), new.id)
    db.commit()
    page = ask(testapp, inquiry, new.ref, age_band="70s", area="kariya", codes=w.code)
    assert "第1回の割引券をすでに受け取っているため、移行できません" in page.text
    assert db.scalar(select(func.count()).select_from(PersonTransfer)) == 0


def test_a_request_can_be_withdrawn_or_rejected_with_a_reason(testapp, db, app, lost):
    w, new, inquiry = lost
    ask(testapp, inquiry, new.ref, age_band="70s", area="kariya", codes=w.code)
    first = db.scalar(select(PersonTransfer))
    page = testapp.get(f"/callcenter/inquiries/{inquiry}")
    testapp.post(f"/callcenter/transfers/{first.id}/withdraw", {"csrf_token": csrf_from(page.text)})
    db.expire_all()
    assert db.get(PersonTransfer, first.id).state == "withdrawn"
    ask(testapp, inquiry, new.ref, age_band="70s", area="kariya", codes=w.code)
    second = db.scalar(select(PersonTransfer).where(PersonTransfer.state == "requested"))
    city = other_app(app)
    staff_app(city, db, "city")
    review = city.get(f"/city/callcenter/transfers/{second.id}")
    token = csrf_from(review.text)
    refused = city.post(
        f"/city/callcenter/transfers/{second.id}/reject", {"csrf_token": token, "note": ""}
    ).follow()
    assert "不承認の理由を入力してください" in refused.text
    city.post(
        f"/city/callcenter/transfers/{second.id}/reject",
        {"csrf_token": token, "note": "本人でない"},
    )
    db.expire_all()
    assert db.get(PersonTransfer, second.id).state == "rejected"
    assert db.get(Person, w.person.id).blocked_at is None
