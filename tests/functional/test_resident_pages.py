"""Residents' pages (issue 4 item 3): plain Japanese, the acquire button with its reason."""

import pytest

from kariya.residents import refs
from tests.helpers import ROUND1, csrf_from, load_campaign, login_resident, make_store


@pytest.fixture
def week1(db, testapp, set_now):
    load_campaign(db, total=60_000, rounds=6)
    make_store(db, "S0001", "かりや青果店")
    testapp.put_json("/dev/clock", {"now": ROUND1.replace(hour=10).isoformat(), "frozen": True})


def test_home_offers_the_acquire_button_then_says_why_not(testapp, week1):
    token = login_resident(testapp)
    home = testapp.get("/home")
    assert "第1回の割引券" in home.text
    assert 'id="acquire" type="button" class="big" >' in home.text  # enabled
    assert 'aria-valuenow="100"' in home.text
    testapp.post("/api/v1/acquisitions", headers={"X-CSRF-Token": token}, status=201)
    home = testapp.get("/home")
    assert "disabled" in home.text.split('id="acquire"')[1].split(">")[0]
    assert "今回分はすでに受け取りました" in home.text
    assert "4枚" in home.text
    assert 'aria-valuenow="80"' in home.text  # 8,000 of 10,000 left


def test_first_visit_asks_for_the_profile_once_then_home(testapp, week1, db):
    """I-1: age band, area and the agreement, asked once (and editable later)."""
    login_resident(testapp, profile=False)
    first = testapp.get("/home", status=302)
    assert first.location.endswith("/profile?next=%2Fhome")
    form = testapp.get(first.location)
    assert "はじめに(1回だけ)" in form.text and "80歳以上" in form.text and "市外" in form.text
    token = csrf_from(form.text)
    # Without the agreement: explained, nothing saved.
    refused = testapp.post(
        "/profile",
        {"age_band": "70s", "area": "kariya", "next": "/home", "csrf_token": token},
        status=422,
    )
    assert "同意が必要です" in refused.text
    assert testapp.get("/api/v1/me").json["profile"] is None
    done = testapp.post(
        "/profile",
        {
            "age_band": "70s",
            "area": "kariya",
            "agreed_terms": "1",
            "next": "/home",
            "csrf_token": token,
        },
        status=302,
    )
    assert done.location.endswith("/home")
    assert "第1回の割引券" in testapp.get("/home").text
    assert testapp.get("/api/v1/me").json["profile"] == {"age_band": "70s", "area": "kariya"}
    # Editable later, without agreeing again.
    edit = testapp.get("/profile")
    assert "登録内容の変更" in edit.text and "agreed_terms" not in edit.text
    testapp.post(
        "/profile",
        {"age_band": "80plus", "area": "outside", "csrf_token": csrf_from(edit.text)},
        status=302,
    )
    assert testapp.get("/api/v1/me").json["profile"] == {"age_band": "80plus", "area": "outside"}


def test_wallet_lists_coupons_with_expiry(testapp, week1):
    token = login_resident(testapp)
    testapp.post("/api/v1/acquisitions", headers={"X-CSRF-Token": token}, status=201)
    wallet = testapp.get("/wallet")
    assert wallet.text.count('class="coupon state-issued"') == 4
    assert 'data-expires="2024-01-22T00:00:00+09:00"' in wallet.text


def test_store_finder_and_store_page_are_public(testapp, week1):
    page = testapp.get("/stores", {"q": "カリヤ"})  # the name is typed in hiragana
    assert "かりや青果店" in page.text and "1件" in page.text
    store = testapp.get("/stores/S0001")
    assert "かりや青果店" in store.text
    testapp.get("/stores/NOPE", status=404)


def test_excluded_items_and_help(testapp, week1):
    assert "たばこ" in testapp.get("/excluded").text
    assert "換金性の高いもの" in testapp.get("/excluded").text
    help_page = testapp.get("/help")
    assert "コールセンター" in help_page.text and "0566-00-0000" in help_page.text
    assert "お客さま番号" not in help_page.text  # nobody logged in: no number to read out


def test_help_page_shows_the_residents_ref_to_read_out(testapp, week1, db):
    """DESIGN 5.1: the `ref` of /api/v1/me is on the help page, for the call centre (Q-1); it is
    random, so it says nothing of the LINE user id (D-1), and each resident has their own."""
    login_resident(testapp, line_user_id="U" + "1" * 32)
    first = testapp.get("/api/v1/me").json["ref"]
    login_resident(testapp, line_user_id="U" + "2" * 32)
    ref = testapp.get("/api/v1/me").json["ref"]
    assert refs.parse(ref) == ref and refs.parse(first) == first and ref != first
    page = testapp.get("/help")
    assert "お客さま番号" in page.text and refs.display(ref) in page.text
    assert refs.display(first) not in page.text
    # A returning resident keeps their number.
    login_resident(testapp, line_user_id="U" + "1" * 32)
    assert testapp.get("/api/v1/me").json["ref"] == first


def test_use_page_needs_a_logged_in_resident(testapp, week1):
    response = testapp.get("/s/some-token", status=302)
    assert "next=%2Fs%2Fsome-token" in response.location
    login_resident(testapp)
    page = testapp.get("/s/some-token")
    assert 'data-token="some-token"' in page.text
    assert "1,000円以上のお会計" in page.text and "2,000円以上のお会計" in page.text


def test_periods_are_shown_by_their_last_day(testapp, week1):
    """A round ending 2024-01-22 00:00 JST is usable through Sunday the 21st: say so."""
    login_resident(testapp)
    home = testapp.get("/home")
    assert "1月15日(月) 〜 <strong>1月21日(日)まで</strong>" in home.text


def test_pages_state_the_campaigns_own_numbers(testapp, db, set_now):
    """Face value, pack, minimum bills and the store limit come from the campaign's data."""
    from kariya.campaign import definition
    from kariya.clock import FixedClock
    from tests.helpers import campaign_toml

    text = (
        campaign_toml()
        .replace("coupon_face = 500", "coupon_face = 300")
        .replace("min_bill = [1000, 2000]", "min_bill = [800, 1600]")
    )
    definition.load(
        db,
        FixedClock(ROUND1.replace(day=1)),
        definition.parse(
            text.replace("total_funds = 60000000", "total_funds = 60000000").replace(
                "coupons_per_pack = 4", "coupons_per_pack = 5"
            )
        ),
        "test",
    )
    db.commit()
    make_store(db, "S0001", "かりや青果店")
    assert "300円券が5枚" in testapp.get("/help").text
    store = testapp.get("/stores/S0001").text
    assert "1枚(800円以上)または2枚(1,600円以上)" in store and "1週間に2枚まで" in store
    assert "(300円券×5枚)" in testapp.get("/").text
