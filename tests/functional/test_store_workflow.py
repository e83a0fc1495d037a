"""The store registration workflow through the secretariat's screens (S-1, S-2; DESIGN.md
section 3): every transition with its reason and history, every refusal in Japanese, the store
list with search and state, and who may see these screens."""

import pytest
import webtest
from sqlalchemy import func, select

from kariya.clock import FixedClock
from kariya.models import Store, TransitionRecord
from kariya.stores import qr, registration
from tests.helpers import ROUND1, csrf_from, login_resident, login_staff, make_store, make_user


def applied_store(db, code="S0001", name="申請中の店", **fields):
    store = registration.create(
        db,
        FixedClock(ROUND1),
        code=code,
        name=name,
        kana="シンセイチュウノミセ",
        category="小売",
        area="kariya",
        address="刈谷市東陽町1-1",
        **fields,
    )
    db.commit()
    return store


@pytest.fixture
def secretariat(db, testapp):
    make_user(db, "secretariat", "jimukyoku")
    login_staff(testapp, "jimukyoku")
    return testapp


def step(app, code, event, reason="確認しました", status=302):
    page = app.get(f"/secretariat/stores/{code}")
    return app.post(
        f"/secretariat/stores/{code}/transition",
        {"csrf_token": csrf_from(page.text), "event": event, "reason": reason},
        status=status,
    )


def state_of(db, code="S0001") -> str:
    db.expire_all()
    return db.scalar(select(Store.state).where(Store.code == code))


def history(db, code="S0001") -> list[tuple[str, str, str, str, str]]:
    store_id = db.scalar(select(Store.id).where(Store.code == code))
    return [
        (r.event, r.from_state, r.to_state, r.actor, r.reason)
        for r in db.scalars(
            select(TransitionRecord)
            .where(TransitionRecord.machine == "store", TransitionRecord.entity_id == store_id)
            .order_by(TransitionRecord.id)
        )
    ]


def buttons(page) -> list[str]:
    return [b["value"] for b in page.html.select('button[name="event"]')]


def test_every_transition_through_the_screens(db, secretariat):
    """DESIGN.md section 3: applied → under_review → approved → active ⇄ suspended →
    withdrawn, each with its reason, by the named secretariat account; activation issues the
    QR code (S-2) that residents then scan."""
    applied_store(db)
    page = secretariat.get("/secretariat/stores/S0001")
    assert "申請受付" in page.html.select_one("#store-state").text
    assert buttons(page) == ["review", "reject"]
    expected = [
        ("review", "under_review", "審査中", ["approve", "reject"]),
        ("approve", "approved", "承認済み", ["activate", "withdraw"]),
        ("activate", "active", "利用可能", ["suspend", "withdraw"]),
        ("suspend", "suspended", "一時停止", ["reinstate", "withdraw"]),
        ("reinstate", "active", "利用可能", ["suspend", "withdraw"]),
        ("withdraw", "withdrawn", "登録取消", []),
    ]
    for event, state, label, next_buttons in expected:
        response = step(secretariat, "S0001", event, reason=f"{event}の理由")
        assert response.location.endswith("/secretariat/stores/S0001")
        page = response.follow()
        assert f"店舗「申請中の店」を「{label}」にしました。" in page.text
        assert state_of(db) == state
        assert buttons(page) == next_buttons
        if event == "activate":
            assert "QRコードを発行しました" in page.text
            token = db.scalar(select(Store.qr_token).where(Store.code == "S0001"))
            assert token and qr.find_by_token(db, token).code == "S0001"
    assert history(db) == [
        (event, before, state, "staff:jimukyoku", f"{event}の理由")
        for (event, state, _, _), before in zip(
            expected,
            ["applied", "under_review", "approved", "active", "suspended", "active"],
            strict=True,
        )
    ]
    table = page.html.select_one("#history").get_text(" ", strip=True)
    assert "審査開始" in table and "申請受付 → 審査中" in table
    assert "withdrawの理由" in table and "この状態(登録取消)からの手続きはありません" in page.text


@pytest.mark.parametrize("before", [[], ["review"]], ids=["from applied", "from under review"])
def test_reject(db, secretariat, before):
    """DESIGN.md section 3: a store can be refused while applied or under review."""
    applied_store(db)
    for event in before:
        step(secretariat, "S0001", event)
    page = step(secretariat, "S0001", "reject", reason="市内に店舗がない").follow()
    assert "「不承認」にしました" in page.text
    assert state_of(db) == "rejected"
    assert history(db)[-1][0:3] == ("reject", "under_review" if before else "applied", "rejected")
    assert buttons(page) == []


@pytest.mark.parametrize(
    "events, illegal, message",
    [
        ([], "activate", "「申請受付」の状態からは「利用開始」を行えません。"),
        ([], "approve", "「申請受付」の状態からは「承認」を行えません。"),
        ([], "suspend", "「申請受付」の状態からは「一時停止」を行えません。"),
        ([], "withdraw", "「申請受付」の状態からは「登録取消」を行えません。"),
        (["review"], "activate", "「審査中」の状態からは「利用開始」を行えません。"),
        (["review", "approve"], "reject", "「承認済み」の状態からは「不承認」を行えません。"),
        (["review", "approve"], "reinstate", "「承認済み」の状態からは「再開」を行えません。"),
        (
            ["review", "approve", "activate"],
            "review",
            "「利用可能」の状態からは「審査開始」を行えません。",
        ),
        (
            ["review", "approve", "activate"],
            "activate",
            "「利用可能」の状態からは「利用開始」を行えません。",
        ),
        (["review", "reject"], "review", "「不承認」の状態からは「審査開始」を行えません。"),
        (
            ["review", "approve", "withdraw"],
            "reinstate",
            "「登録取消」の状態からは「再開」を行えません。",
        ),
    ],
)
def test_illegal_transitions_show_the_machines_refusal(db, secretariat, events, illegal, message):
    """DESIGN.md section 3: a step the state does not allow (a stale page, a second tab) is
    refused with the machine's Japanese message (409) and changes nothing."""
    applied_store(db)
    for event in events:
        step(secretariat, "S0001", event)
    state, records = state_of(db), len(history(db))
    refused = step(secretariat, "S0001", illegal, status=409)
    assert message in refused.text
    assert (
        refused.html.select_one("#store-state").text.strip()
        == {
            "applied": "申請受付",
            "under_review": "審査中",
            "approved": "承認済み",
            "active": "利用可能",
            "rejected": "不承認",
            "withdrawn": "登録取消",
        }[state]
    )
    assert state_of(db) == state and len(history(db)) == records


def test_a_reason_is_required(db, secretariat):
    """Every step needs a reason; without one, nothing changes (422)."""
    applied_store(db)
    for reason in ("", "   ", "　"):
        refused = step(secretariat, "S0001", "review", reason=reason, status=422)
        assert "「審査開始」の理由を入力してください。" in refused.text
    too_long = step(secretariat, "S0001", "review", reason="あ" * 501, status=422)
    assert "500文字以内" in too_long.text
    assert state_of(db) == "applied" and history(db) == []


def test_unknown_event_and_unknown_store(db, secretariat):
    applied_store(db)
    refused = step(secretariat, "S0001", "delete", status=422)
    assert "この操作はできません" in refused.text
    assert state_of(db) == "applied"
    missing = secretariat.get("/secretariat/stores/NOPE", status=404)
    assert "店舗コード NOPE の店舗は見つかりません" in missing.text


def test_a_suspended_store_stops_taking_coupons_until_reinstated(db, secretariat, testapp):
    """S-1, I-7: a suspended store's QR answers STORE_NOT_ACTIVE; reinstated, it works again."""
    store = make_store(db)
    step(secretariat, "S0001", "suspend", reason="利用停止の申し出")
    resident = webtest.TestApp(testapp.app, extra_environ=testapp.extra_environ)  # own cookies
    login_resident(resident)
    refused = resident.get(f"/api/v1/qr/{store.qr_token}", status=409)
    assert refused.json["error"] == "STORE_NOT_ACTIVE"
    step(secretariat, "S0001", "reinstate", reason="再開の申し出")
    assert resident.get(f"/api/v1/qr/{store.qr_token}").json["store"]["code"] == "S0001"


def test_store_page_shows_details_and_import_history(db, secretariat):
    """S-1: the page shows what is registered (area by its label, bank account) and the
    history of the store, imports included."""
    from kariya.stores.importer import applying
    from tests.functional.test_store_import import row, workbook

    applying.apply(db, FixedClock(ROUND1), workbook([row("K0001")]), actor="staff:jimukyoku")
    db.commit()
    page = secretariat.get("/secretariat/stores/K0001")
    facts = page.html.select_one(".facts").get_text(" ", strip=True)
    assert "かりや商店" in page.text and "刈谷地区" in facts and "0566-23-1111" in facts
    assert "1560" in facts and "ｶﾘﾔｼﾖｳﾃﾝ" in facts and "未発行" in facts
    assert "一括取込(新規登録)" in page.html.select_one("#history").text


def test_store_list_search_and_state_filter(db, secretariat):
    """S-1: every store in any state, searched by code, name or kana (any width), filtered by
    state, with the counts per state."""
    make_store(db, code="S0001", name="かりや青果店")
    applied_store(db, code="S0002", name="手づくりパン工房")
    applied_store(db, code="S0003", name="喫茶みなと")
    page = secretariat.get("/secretariat/stores")
    codes = [a.text for a in page.html.select("#stores tbody a")]
    assert codes == ["S0001", "S0002", "S0003"]
    assert "利用可能 1件" in page.text and "申請受付 2件" in page.text
    found = secretariat.get("/secretariat/stores", {"q": "ｼﾝｾｲﾁｭｳ"})  # half-width kana
    assert [a.text for a in found.html.select("#stores tbody a")] == ["S0002", "S0003"]
    by_code = secretariat.get("/secretariat/stores", {"q": "s0003"})
    assert [a.text for a in by_code.html.select("#stores tbody a")] == ["S0003"]
    active = secretariat.get("/secretariat/stores", {"state": "active"})
    assert [a.text for a in active.html.select("#stores tbody a")] == ["S0001"]
    none = secretariat.get("/secretariat/stores", {"q": "存在しない店"})
    assert "該当する店舗はありません" in none.text


@pytest.mark.parametrize("role", ["agent", "city", "store"])
def test_other_roles_cannot_see_or_move_stores(db, testapp, role):
    """D-1, I-10: only the secretariat reaches the store screens; others get 403 and change
    nothing."""
    applied_store(db)
    make_store(db, code="S0002")
    make_user(db, role, f"user_{role}", store_code="S0002" if role == "store" else None)
    login_staff(testapp, f"user_{role}")
    testapp.get("/secretariat/stores", status=403)
    testapp.get("/secretariat/stores/S0001", status=403)
    testapp.post(
        "/secretariat/stores/S0001/transition",
        {"csrf_token": csrf_from(testapp.get("/login").text), "event": "review", "reason": "x"},
        status=403,
    )
    assert state_of(db) == "applied"
    assert (
        db.scalar(
            select(func.count())
            .select_from(TransitionRecord)
            .where(
                TransitionRecord.entity_id
                == db.scalar(select(Store.id).where(Store.code == "S0001"))
            )
        )
        == 0
    )


def test_anonymous_and_residents_are_kept_out(db, testapp):
    applied_store(db)
    assert "/login" in testapp.get("/secretariat/stores/S0001", status=302).location
    login_resident(testapp)
    testapp.get("/secretariat/stores/S0001", status=403)
    testapp.get("/secretariat/stores", status=403)
