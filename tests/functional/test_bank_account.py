"""A store's request to change its transfer account (issue #5 item 5; F-5 "no wrong transfer"):
it takes effect only when the secretariat approves it, the store's registered address is told,
and nobody else can touch it."""

import pytest
from sqlalchemy import func, select

from kariya.models import BankChangeRequest, OutboundMail, PayoutBatch, Store, TransitionRecord
from tests.functional.test_payouts import post, spent, staff_app  # noqa: F401  (fixture)
from tests.helpers import csrf_from, load_campaign, make_store

NEW = {
    "bank_code": "０００５",  # typed full-width: normalised
    "branch_code": "1",
    "account_type": "普通",
    "account_number": "７６５４３２１",
    "account_holder_kana": "かりや　しょうてん",
    "note": "メインバンクを変更しました",
}


def _store_with_account(db, code="S0001", email="shop@example.jp"):
    store = make_store(db, code, f"店{code}")
    store.bank_code, store.branch_code, store.account_type = "0001", "004", "普通"
    store.account_number, store.account_holder_kana = "0000001", "ｶﾘﾔｼﾖｳﾃﾝ"
    store.email, store.phone = email, "0566-23-1111"
    db.commit()
    return store


def _request(app, fields, status=302):
    return post(app, "/store/bank-account", "/store/bank-account", fields, status=status)


def _account(db, store):
    db.expire_all()
    s = db.get(Store, store.id)
    return (s.bank_code, s.branch_code, s.account_number, s.account_holder_kana)


def _count(db, model, *where):
    return db.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
def shop(db):
    load_campaign(db)
    return _store_with_account(db)


def test_a_request_changes_nothing_until_the_secretariat_approves_it(testapp, db, shop):
    store_app = staff_app(testapp, db, "store", "shop1", store_code=shop.code)
    secretariat = staff_app(testapp, db, "secretariat", "sec1")
    before = _account(db, shop)

    _request(store_app, NEW)
    page = store_app.get("/store/bank-account")
    assert "承認待ちの変更申請" in page.text and "三菱ＵＦＪ" in page.text
    assert _account(db, shop) == before  # payments still go to the account on record
    req = db.scalar(select(BankChangeRequest))
    assert (req.bank_code, req.branch_code, req.account_number, req.account_holder_kana) == (
        "0005",
        "001",
        "7654321",
        "ｶﾘﾔ ｼﾖｳﾃﾝ",
    )
    # The registered address is told at once: the classic fraud is a request nobody expected.
    told = db.scalars(select(OutboundMail).where(OutboundMail.to_addr == "shop@example.jp")).all()
    assert len(told) == 1 and "変更申請を受け付けました" in told[0].subject
    assert "お心当たりのない申請" in told[0].body

    listing = secretariat.get("/secretariat/bank-requests")
    assert f"{shop.code} {shop.name}" in listing.text
    detail = secretariat.get(f"/secretariat/bank-requests/{req.id}")
    assert "0566-23-1111" in detail.text  # call the number on record, not one in the request
    assert "口座名義が変わります" in detail.text

    # No reason: refused with a Japanese message, nothing changes.
    refused = post(
        secretariat,
        f"/secretariat/bank-requests/{req.id}",
        f"/secretariat/bank-requests/{req.id}",
        {"decision": "approve", "reason": " "},
        status=422,
    )
    assert "理由" in refused.text
    assert _account(db, shop) == before
    assert db.scalar(select(BankChangeRequest.state)) == "requested"

    post(
        secretariat,
        f"/secretariat/bank-requests/{req.id}",
        f"/secretariat/bank-requests/{req.id}",
        {"decision": "approve", "reason": "登録番号へ電話し店主に確認"},
    )
    assert _account(db, shop) == ("0005", "001", "7654321", "ｶﾘﾔ ｼﾖｳﾃﾝ")
    history = db.scalars(
        select(TransitionRecord).where(
            TransitionRecord.machine == "store", TransitionRecord.event == "bank_change"
        )
    ).all()
    assert len(history) == 1 and history[0].actor == "staff:sec1"
    assert "0001" in history[0].reason and "0005" in history[0].reason
    assert "振込先変更" in secretariat.get(f"/secretariat/stores/{shop.code}").text
    decided = db.scalars(
        select(OutboundMail).where(OutboundMail.ref == f"bank_change:{req.id}:approved")
    ).all()
    assert len(decided) == 1 and "承認済み" in decided[0].subject
    # Deciding twice is impossible.
    again = post(
        secretariat,
        f"/secretariat/bank-requests/{req.id}",
        f"/secretariat/bank-requests/{req.id}",
        {"decision": "reject", "reason": "やはり不可"},
        status=409,
    )
    assert "行えません" in again.text


def test_a_rejected_request_leaves_the_account_alone(testapp, db, shop):
    store_app = staff_app(testapp, db, "store", "shop1", store_code=shop.code)
    secretariat = staff_app(testapp, db, "secretariat", "sec1")
    before = _account(db, shop)
    _request(store_app, NEW)
    req = db.scalar(select(BankChangeRequest))
    post(
        secretariat,
        f"/secretariat/bank-requests/{req.id}",
        f"/secretariat/bank-requests/{req.id}",
        {"decision": "reject", "reason": "店主は申請していないとのこと"},
    )
    assert _account(db, shop) == before
    assert db.scalar(select(BankChangeRequest.state)) == "rejected"
    page = store_app.get("/store/bank-account")
    assert "不承認" in page.text and "店主は申請していないとのこと" in page.text


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("bank_code", "9998", "金融機関コード 9998 は存在しません"),
        ("branch_code", "999", "支店コード 999 はありません"),
        ("account_number", "12345678", "口座番号は7桁以内"),
        ("account_number", "12-AB", "口座番号は数字"),
        ("account_holder_kana", "刈谷商店", "振込で使えない文字"),
        ("account_holder_kana", "", "口座名義カナを入力してください"),
        ("account_type", "定期", "「普通」か「当座」"),
    ],
)
def test_bad_account_details_are_refused_and_nothing_is_written(
    testapp, db, shop, field, value, message
):
    store_app = staff_app(testapp, db, "store", "shop1", store_code=shop.code)
    page = _request(store_app, {**NEW, field: value}, status=422)
    assert message in page.text and "申請していません" in page.text
    assert _count(db, BankChangeRequest) == 0
    assert _count(db, OutboundMail) == 0


def test_the_same_account_again_and_a_second_open_request_are_refused(testapp, db, shop):
    store_app = staff_app(testapp, db, "store", "shop1", store_code=shop.code)
    same = {
        "bank_code": "0001",
        "branch_code": "004",
        "account_type": "普通",
        "account_number": "1",
        "account_holder_kana": "ｶﾘﾔｼﾖｳﾃﾝ",
    }
    assert "現在登録されている口座と同じ" in _request(store_app, same, status=422).text
    _request(store_app, NEW)
    # The form is replaced by the open request; a second POST (another tab) is refused.
    second = _request(store_app, {**NEW, "account_number": "1111111"}, status=409)
    assert "承認待ちの変更申請があります" in second.text
    assert _count(db, BankChangeRequest) == 1
    # Withdrawn, a new request may be filed.
    req = db.scalar(select(BankChangeRequest))
    post(store_app, "/store/bank-account", f"/store/bank-account/requests/{req.id}/withdraw")
    assert db.scalar(select(BankChangeRequest.state)) == "withdrawn"
    _request(store_app, {**NEW, "account_number": "1111111"})
    assert _count(db, BankChangeRequest, BankChangeRequest.state == "requested") == 1


def test_only_the_secretariat_decides_and_a_store_touches_only_its_own_requests(testapp, db, shop):
    other = _store_with_account(db, "S0002", email="other@example.jp")
    mine = staff_app(testapp, db, "store", "shop1", store_code=shop.code)
    theirs = staff_app(testapp, db, "store", "shop2", store_code=other.code)
    _request(mine, NEW)
    req = db.scalar(select(BankChangeRequest))

    # The other store cannot see, withdraw or decide it.
    assert "承認待ち" not in theirs.get("/store/bank-account").text
    token = csrf_from(theirs.get("/store/bank-account").text)
    theirs.post(
        f"/store/bank-account/requests/{req.id}/withdraw", {"csrf_token": token}, status=404
    )
    theirs.get(f"/secretariat/bank-requests/{req.id}", status=403)
    theirs.post(
        f"/secretariat/bank-requests/{req.id}",
        {"csrf_token": token, "decision": "approve", "reason": "x"},
        status=403,
    )
    # A store (even its own) cannot approve its own request; nor can an agent or the city.
    mine.post(
        f"/secretariat/bank-requests/{req.id}",
        {
            "csrf_token": csrf_from(mine.get("/store/bank-account").text),
            "decision": "approve",
            "reason": "x",
        },
        status=403,
    )
    for role in ("agent", "city"):
        staff = staff_app(testapp, db, role, f"{role}1")
        staff.get("/secretariat/bank-requests", status=403)
    assert db.scalar(select(BankChangeRequest.state)) == "requested"
    assert _account(db, shop)[0] == "0001"


def _pending_change_and_draft(testapp, db, paid):
    paid.email, paid.phone = "seika@example.jp", "0566-00-0001"
    db.commit()
    store_app = staff_app(testapp, db, "store", "seika", store_code=paid.code)
    secretariat = staff_app(testapp, db, "secretariat", "sec1")
    _request(store_app, NEW)
    post(secretariat, "/secretariat/payouts", "/secretariat/payouts/build")
    batch = db.scalar(select(PayoutBatch))
    line = next(line for line in batch.lines if line.store_id == paid.id)
    # Built while the request waits: the account on record.
    assert (line.bank_code, line.account_number) == ("0001", "0000001")
    return secretariat, db.scalar(select(BankChangeRequest)), batch


def _line(db, batch, store):
    db.expire_all()
    return next(line for line in db.get(PayoutBatch, batch.id).lines if line.store_id == store.id)


def _approve(secretariat, req):
    return post(
        secretariat,
        f"/secretariat/bank-requests/{req.id}",
        f"/secretariat/bank-requests/{req.id}",
        {"decision": "approve", "reason": "電話で確認"},
    ).follow()


def test_approval_moves_a_draft_line_to_the_new_account(testapp, db, spent):  # noqa: F811
    paid, _held = spent
    secretariat, req, batch = _pending_change_and_draft(testapp, db, paid)
    page = _approve(secretariat, req)
    assert "作成中の支払バッチの振込先も新しい口座にしました" in page.text
    line = _line(db, batch, paid)
    assert (line.bank_code, line.branch_code, line.account_number) == ("0005", "001", "7654321")


def test_a_submitted_batch_stays_frozen_when_the_account_changes(testapp, db, spent):  # noqa: F811
    paid, _held = spent
    secretariat, req, batch = _pending_change_and_draft(testapp, db, paid)
    post(secretariat, f"/secretariat/payouts/{batch.id}", f"/secretariat/payouts/{batch.id}/submit")
    page = _approve(secretariat, req)
    assert f"支払バッチ No.{batch.id} は申請済みのため、変更前の口座で振り込まれます" in page.text
    line = _line(db, batch, paid)
    assert (line.bank_code, line.account_number) == ("0001", "0000001")
    assert _account(db, paid)[0] == "0005"  # the next batch pays the new account
