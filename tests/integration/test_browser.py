"""A resident's whole path in headless Chromium (Debian's package; no downloaded browser) on a
phone-sized viewport: login -> first-visit profile -> acquire -> scan the store's QR -> use
(the store's code of the day compared with its portal, the staff PIN on a small phone) ->
history; on desk screens, an agent logs a call about a confirmation code, escalates it, the city
answers and the agent resolves it; and a change of the terms: the secretariat writes it with the
live preview, the city reviews the diff and approves, the resident reads the new terms and agrees
before acquiring. Screenshots of each page are kept in tests/artifacts/ (I-1, I-5, P-5, Q-1,
C-4, D-1)."""

import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from kariya import make_config
from tasks import configure
from tests.conftest import BASE_SETTINGS
from tests.helpers import (
    PASSWORD,
    ROUND1,
    LiveServer,
    load_campaign,
    make_person,
    make_store,
    make_user,
)

pytestmark = pytest.mark.integration

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def base_url(engine, registry):
    """The app served on a free port, its LINE endpoints pointing at the LINE simulator it
    mounts at /dev/line, so login runs the real OIDC client over real HTTP."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed: `make test` installs Debian's chromium package")
    server = LiveServer()
    base = server.base
    line = {
        "kariya.public_url": base,  # absolute URLs come from it (issue 14), not from Host
        "kariya.line.channel_id": "1234567890",
        "kariya.line.channel_secret": "browser-test-line-channel-secret",
        "kariya.line.authorize_url": base + "/dev/line/oauth2/v2.1/authorize",
        "kariya.line.token_url": base + "/dev/line/oauth2/v2.1/token",
        "kariya.line.friendship_url": base + "/dev/line/friendship/v1/status",
        "kariya.line.redirect_uri": base + "/login/line/callback",
    }
    app = make_config({**BASE_SETTINGS, **line}).make_wsgi_app()
    server.start(app)
    yield base
    server.stop()
    configure(registry)  # the Celery app back to the suite's app


def test_resident_walks_from_login_to_history(base_url, db, redis_client):
    from kariya.clock import FixedClock
    from kariya.redemptions import till
    from kariya.settings import parse

    load_campaign(db, total=60_000, rounds=6)
    store = make_store(db, "S0001", "かりや青果店")
    # Issue 15: the store opted into a staff PIN, typed on the resident's phone.
    for key in redis_client.scan_iter("kariya:till:*"):
        redis_client.delete(key)
    till.set_pin(
        db, FixedClock(ROUND1), till.of(parse(BASE_SETTINGS)), store, "2580", "2580", actor="test"
    )
    db.commit()
    make_user(db, "store", "store1", store_code="S0001")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        phone = browser.new_context(
            viewport={"width": 390, "height": 844},
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            locale="ja-JP",
        )
        page = phone.new_page()
        # Issue 14: the pages run under a Content-Security-Policy; nothing of ours may break it.
        blocked: list[str] = []
        page.on(
            "console",
            lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None,
        )
        shot = lambda name: page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)  # noqa: E731
        page.request.put(
            f"{base_url}/dev/clock",
            data={"now": ROUND1.replace(hour=10).isoformat(), "frozen": True},
        )

        # Login (the LINE simulator's direct login) lands on the first-visit profile.
        page.request.post(
            f"{base_url}/dev/line-login",
            data={"line_user_id": "U" + "a" * 32, "display_name": "刈谷 花子"},
        )
        page.goto(f"{base_url}/home")
        expect(page).to_have_url(re.compile(r"/profile\?next="))
        shot("1_profile")
        page.select_option("#age_band", "70s")
        page.select_option("#area", "kariya")
        page.check("#agreed_terms")
        page.click("text=登録する")

        # Acquire this week's coupons.
        expect(page).to_have_url(re.compile(r"/home$"))
        expect(page.locator("h1")).to_contain_text("第1回の割引券")
        shot("2_home")
        page.click("#acquire")
        expect(page.locator("#acquire-result")).to_contain_text("4枚受け取りました")
        page.wait_for_url(re.compile(r"/home$"))
        page.wait_for_load_state("networkidle")
        expect(page.locator("#acquire")).to_be_disabled()
        expect(page.locator(".count")).to_have_text("4枚")
        width = page.locator(".bar span").evaluate("e => e.style.width")
        assert width.endswith("%") and width != "0%"  # from data-percent, not an inline style
        shot("3_acquired")

        # Scan the store's QR: the camera opens the URL it carries.
        page.goto(f"{base_url}/s/{store.qr_token}")
        expect(page.locator("#step-input .store-name")).to_have_text("かりや青果店")
        expect(page.locator("#usable")).to_have_text("2")
        page.click(".count-choice[data-count='2']")
        page.fill("#bill", "２，５００")
        shot("4_use_input")
        page.click("#to-confirm")
        expect(page.locator("#step-confirm")).to_be_visible()
        expect(page.locator("#confirm-amount")).to_have_text("1,000円")
        expect(page.locator("#confirm-bill")).to_have_text("2,500円")
        clock = page.locator("#step-confirm .live-clock")
        first = clock.inner_text()
        page.wait_for_timeout(1200)
        assert clock.inner_text() != first  # the confirmation screen is live, not a screenshot
        # Issue 15: the store's name in large type and the code of the day, which the staff
        # compare with the one their portal shows.
        expect(page.locator("#step-confirm .store-name")).to_have_text("かりや青果店")
        assert (
            page.locator("#step-confirm .store-name").evaluate(
                "e => parseFloat(getComputedStyle(e).fontSize)"
            )
            >= 32
        )
        day_code = page.locator("#confirm-day-code").inner_text()
        assert re.fullmatch(r"\d{3}", day_code)
        desk = browser.new_context(
            viewport={"width": 1280, "height": 900}, locale="ja-JP"
        ).new_page()
        desk.goto(f"{base_url}/login")
        desk.fill("#username", "store1")
        desk.fill("#password", PASSWORD)
        desk.click("button[type=submit]")
        expect(desk.locator("#day-code")).to_have_text(day_code)
        expect(desk.locator("#till-code")).to_contain_text("かりや青果店")
        desk.screenshot(path=str(ARTIFACTS / "5a_store_portal_day_code.png"), full_page=True)
        shot("5_confirm")

        # The staff PIN, typed on the resident's phone, on a small phone (320 px wide).
        page.set_viewport_size({"width": 320, "height": 568})
        expect(page.locator("#confirm")).to_have_text("お店の人が暗証番号を入力する")
        page.click("#confirm")
        expect(page.locator("#step-pin")).to_be_visible()
        pin = page.locator("#pin")
        expect(pin).to_be_focused()
        assert pin.get_attribute("inputmode") == "numeric"
        assert pin.bounding_box()["height"] >= 60  # a large field for the digits
        assert page.locator("#pin-confirm").bounding_box()["height"] >= 56
        assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
        expect(page.locator("#step-pin .day-code-phone")).to_have_text(day_code)
        pin.fill("1111")
        page.click("#pin-confirm")
        expect(page.locator("#pin-error")).to_contain_text("暗証番号が違います。あと2回")
        shot("5b_pin_wrong")
        pin.fill("２５８０")  # full-width digits are understood
        page.click("#pin-confirm")
        expect(page.locator("#step-done")).to_be_visible()
        code = page.locator("#done-code").inner_text()
        assert re.fullmatch(r"[2-9A-Z]{6}", code)
        expect(page.locator("#done-day-code")).to_have_text(day_code)
        shot("6_done")
        page.set_viewport_size({"width": 390, "height": 844})

        # History shows the use with its confirmation code.
        page.goto(f"{base_url}/history")
        expect(page.locator("table")).to_contain_text("かりや青果店")
        expect(page.locator("table")).to_contain_text(code)
        expect(page.locator("table")).to_contain_text("2,500円")
        shot("7_history")
        browser.close()
    assert blocked == []
    assert len(list(ARTIFACTS.glob("*.png"))) >= 7


def test_the_city_sees_its_dashboard_with_charts(base_url, db):
    """C-1: the city's dashboard in a desktop browser: the figures as of the last refresh, the
    charts drawn by the server (no script, no CDN), the store table sorted by a click; printed
    to tests/artifacts/11_city_dashboard.png."""
    import datetime as dt

    from kariya.clock import FixedClock
    from kariya.coupons import acquisition, ticker
    from kariya.redemptions import uses
    from tests.helpers import PASSWORD, make_person, make_user

    load_campaign(db, total=120_000, rounds=6)
    shops = [
        make_store(db, f"S{n:04d}", name)
        for n, name in enumerate(
            ("かりや青果店", "喫茶みなと", "刈谷書店", "はなまる理容"), start=1
        )
    ]
    ticker.run_due(db, FixedClock(ROUND1.replace(minute=1)), actor="test")
    for n in range(1, 7):
        person = make_person(db, n)
        acquisition.acquire(db, FixedClock(ROUND1.replace(hour=n + 8)), person.id)
        for k, shop in enumerate(shops[: 1 + n % 4]):
            when = FixedClock(ROUND1 + dt.timedelta(days=k, hours=10 + n))
            uses.redeem(db, when, person.id, shop.qr_token, 1, 1000 + 500 * k)
    db.commit()
    make_user(db, "city", "city1")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
        page = desk.new_page()
        page.request.put(
            f"{base_url}/dev/clock",
            data={"now": (ROUND1 + dt.timedelta(days=3, hours=18)).isoformat(), "frozen": True},
        )
        page.goto(f"{base_url}/login")
        page.fill("#username", "city1")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.click("#to-dashboard")
        expect(page).to_have_url(re.compile(r"/city/dashboard$"))
        page.click("#refresh")
        expect(page.locator("#as-of")).to_contain_text("2024年01月18日")
        expect(page.locator("#funds")).to_contain_text("120,000円")
        for chart in ("burn", "opening", "uses", "rollover", "area", "age_band"):
            expect(page.locator(f"#chart-{chart}")).to_be_visible()
        assert page.locator("svg.chart rect").count() > 10
        # No chart library, no CDN: the only scripts are the app's own static files.
        sources = page.eval_on_selector_all("script[src]", "els => els.map(e => e.src)")
        assert all(src.startswith(f"{base_url}/static/") for src in sources), sources
        page.click("#stores th >> text=利用額")
        first = page.locator("#stores tbody tr").first
        expect(first).to_contain_text("かりや青果店")  # the most used store first
        page.screenshot(path=str(ARTIFACTS / "11_city_dashboard.png"), full_page=True)
        page.emulate_media(media="print")
        expect(page.locator(".site-header")).to_be_hidden()  # printable: the charts, not the menus


def test_agent_logs_a_call_escalates_it_the_city_answers_and_the_agent_resolves_it(base_url, db):
    """Q-1 on a desk screen: an agent logs a call about a confirmation code from the console
    (keyboard only until the escalation), escalates it to the city, a city approver answers on
    their home page's list, and the agent carries on, inserts a canned answer from the answer
    manual beside the console (Q-3) and resolves it."""
    from kariya.clock import FixedClock
    from kariya.coupons import acquisition, ticker
    from kariya.redemptions import uses

    load_campaign(db, total=60_000, rounds=6)
    store = make_store(db, "S0001", "かりや青果店")
    person = make_person(db, 7)
    ticker.run_due(db, FixedClock(ROUND1.replace(hour=9)), actor="test")
    acquisition.acquire(db, FixedClock(ROUND1.replace(hour=9)), person.id)
    code = uses.redeem(
        db, FixedClock(ROUND1.replace(hour=9, minute=30)), person.id, store.qr_token, 2, 2500
    )["confirmation_code"]
    db.commit()
    make_user(db, "agent", "agent")
    make_user(db, "city", "city")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        desk = {"viewport": {"width": 1366, "height": 900}, "locale": "ja-JP"}
        agent = browser.new_context(**desk).new_page()
        agent.request.put(
            f"{base_url}/dev/clock",
            data={"now": ROUND1.replace(hour=10).isoformat(), "frozen": True},
        )
        shot = lambda page, name: page.screenshot(  # noqa: E731
            path=str(ARTIFACTS / f"{name}.png"), full_page=True
        )

        def login(page, username):
            page.goto(f"{base_url}/login")
            page.fill("#username", username)
            page.fill("#password", PASSWORD)
            page.keyboard.press("Enter")

        # The agent's console: the cursor is in the subject; Enter logs the call.
        login(agent, "agent")
        expect(agent).to_have_url(re.compile(r"/callcenter/$"))
        expect(agent.locator("#subject")).to_be_focused()
        agent.keyboard.type("お店で割引券を使えなかった")
        agent.select_option("#category", "complaint")
        agent.fill("#confirmation_code", code.lower())
        agent.focus("#subject")
        shot(agent, "cc_1_console")
        agent.keyboard.press("Enter")
        expect(agent).to_have_url(re.compile(r"/callcenter/inquiries/\d+$"))
        expect(agent.locator("#inquiry-state")).to_have_text("対応中")
        expect(agent.locator("#timeline")).to_contain_text(f"確認コード {code}")
        expect(agent.locator("#timeline")).to_contain_text("かりや青果店(S0001)")
        expect(agent.locator("#note")).to_be_focused()
        agent.keyboard.type("会計後に割引券を断られたとの苦情。店舗への確認を依頼。")
        shot(agent, "cc_2_inquiry")
        agent.click("#event-escalate")
        expect(agent.locator("#inquiry-state")).to_have_text("市に報告中")
        inquiry_url = agent.url

        # The city sees it at once on its home page, with its age, and answers.
        agent.request.put(
            f"{base_url}/dev/clock",
            data={"now": ROUND1.replace(hour=11, minute=30).isoformat(), "frozen": True},
        )
        city = browser.new_context(**desk).new_page()
        login(city, "city")
        expect(city).to_have_url(re.compile(r"/city/$"))
        panel = city.locator("#escalations")
        expect(panel).to_contain_text("回答待ち 1 件")
        expect(panel).to_contain_text("お店で割引券を使えなかった")
        expect(panel).to_contain_text("1時間30分前")
        shot(city, "cc_3_city_home")
        panel.locator("a", has_text=re.compile(r"^\d+$")).first.click()
        expect(city.locator("#summary")).to_contain_text("断られたとの苦情")
        city.fill(
            "#answer-note",
            "事務局から店舗に連絡し、利用方法を再案内します。お客さまにはその旨お伝えください。",
        )
        city.click("#answer")
        expect(city.locator("#escalations")).to_contain_text("回答待ち 0 件")

        # The agent sees the answer, carries on and resolves the inquiry.
        agent.goto(inquiry_url)
        expect(agent.locator("#inquiry-state")).to_have_text("市から回答あり")
        expect(agent.locator("#city-answer")).to_contain_text("事務局から店舗に連絡し")
        agent.click("#event-resume")
        expect(agent.locator("#inquiry-state")).to_have_text("対応中")
        agent.fill("#note", "市の回答をお伝えし、了承いただいた。")
        # The answer manual beside the note: searched in place, so the note stays, and a
        # section inserted into the note as a canned answer.
        agent.fill("#manual-q", "苦情")
        agent.press("#manual-q", "Enter")
        agent.locator("#manual-hits .insert-answer[data-heading='苦情を受けたとき']").click()
        expect(agent.locator("#note")).to_have_value(
            re.compile(r"^市の回答をお伝えし、了承いただいた。\n\n【苦情を受けたとき】\n.+")
        )
        expect(agent.locator("#insert-status")).to_contain_text("メモに挿入し")
        expect(agent).to_have_url(inquiry_url)
        shot(agent, "cc_4_canned_answer")
        agent.click("#event-resolve")
        expect(agent).to_have_url(re.compile(r"/callcenter/$"))
        agent.goto(inquiry_url)
        expect(agent.locator("#inquiry-state")).to_have_text("解決")
        expect(agent.locator("#journal")).to_contain_text("市の回答")
        expect(agent.locator("#journal")).to_contain_text("【苦情を受けたとき】")
        expect(agent.locator("#journal")).not_to_contain_text("旧版")
        shot(agent, "cc_5_resolved")


def _staff_login(browser, base_url: str, username: str):
    desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    page = desk.new_page()
    page.goto(f"{base_url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    return page


def test_the_city_reviews_a_diff_and_the_resident_agrees_to_new_terms(base_url, db):
    load_campaign(db, total=60_000, rounds=6)
    make_user(db, "secretariat", "jimu")
    make_user(db, "city", "shi")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        phone = browser.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="ja-JP"
        ).new_page()
        phone.request.put(
            f"{base_url}/dev/clock",
            data={"now": ROUND1.replace(hour=10).isoformat(), "frozen": True},
        )
        # A resident agreed to version 1 at the first visit, where the terms are shown.
        phone.request.post(
            f"{base_url}/dev/line-login",
            data={"line_user_id": "U" + "b" * 32, "display_name": "刈谷 太郎"},
        )
        phone.goto(f"{base_url}/home")
        expect(phone.locator("#terms-text")).to_contain_text("LINEのユーザーID")
        phone.select_option("#age_band", "40s")
        phone.select_option("#area", "kariya")
        phone.check("#agreed_terms")
        phone.click("text=登録する")
        expect(phone).to_have_url(re.compile(r"/home$"))

        # The secretariat writes version 2, watching the live preview.
        office = _staff_login(browser, base_url, "jimu")
        office.goto(f"{base_url}/secretariat/documents/terms/new")
        body = office.locator("#body")
        body.fill(
            body.input_value().replace(
                "## 第4条 してはいけないこと",
                "割引券の画面は、音声読み上げにも対応しています。\n\n## 第4条 してはいけないこと",
            )
        )
        expect(office.locator("#preview")).to_contain_text("音声読み上げにも対応")
        office.fill("#change_note", "第3条に音声読み上げの案内を追加")
        office.screenshot(path=str(ARTIFACTS / "8_secretariat_editor.png"), full_page=True)
        office.click("#save")
        expect(office.locator("#actions")).to_contain_text("作成中")
        office.click("#submit")
        expect(office.locator(".flash")).to_contain_text("承認申請しました")

        # The city sees it waiting, reviews the diff by character and approves.
        city = _staff_login(browser, base_url, "shi")
        expect(city.locator("#awaiting")).to_contain_text("第3条に音声読み上げの案内を追加")
        city.click("#awaiting a")
        expect(city.locator("#diff ins")).to_contain_text("音声読み上げにも対応しています")
        city.screenshot(path=str(ARTIFACTS / "9_city_review_diff.png"), full_page=True)
        city.click("#approve")
        expect(city.locator(".flash")).to_contain_text("承認しました")

        office.reload()
        office.click("#publish")
        expect(office.locator(".flash")).to_contain_text("公開しました")

        # The resident is asked again before the next acquisition, reads, agrees, acquires.
        phone.goto(f"{base_url}/home")
        expect(phone).to_have_url(re.compile(r"/terms\?next="))
        expect(phone.locator("#consent")).to_contain_text("第1版から第2版に変わりました")
        expect(phone.locator("#terms-text")).to_contain_text("音声読み上げにも対応しています")
        phone.screenshot(path=str(ARTIFACTS / "10_resident_new_terms.png"), full_page=True)
        phone.click("#agree")
        expect(phone).to_have_url(re.compile(r"/home$"))
        phone.click("#acquire")
        expect(phone.locator("#acquire-result")).to_contain_text("4枚受け取りました")
        browser.close()
