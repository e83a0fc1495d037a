"""The withdrawal on a small phone (DESIGN §5.1, D-1) in headless Chromium: a resident who has
coupons opens the help page, follows 「退会の手続きへ」, reads the confirmation (large text, the
unused coupons named, two big buttons that fit the screen), first goes back, then withdraws and
is logged out. Screenshots in tests/artifacts/."""

import re

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.helpers import ROUND1, load_campaign
from tests.integration.test_browser import ARTIFACTS, CHROMIUM, FLAGS, base_url  # noqa: F401

pytestmark = pytest.mark.integration


def test_a_resident_withdraws_from_the_help_page_on_a_small_phone(base_url, db):  # noqa: F811
    load_campaign(db, total=60_000, rounds=6)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        phone = browser.new_context(
            viewport={"width": 360, "height": 640},  # a small phone
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            locale="ja-JP",
        )
        page = phone.new_page()
        blocked: list[str] = []
        page.on(
            "console",
            lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None,
        )
        page.request.put(f"{base_url}/dev/clock", data={"now": ROUND1.replace(hour=10).isoformat()})
        page.request.post(
            f"{base_url}/dev/line-login",
            data={"line_user_id": "U" + "c" * 32, "display_name": "刈谷 一郎"},
        )
        page.goto(f"{base_url}/profile")
        page.select_option("#age_band", "70s")
        page.select_option("#area", "kariya")
        page.check("#agreed_terms")
        page.click("text=登録する")
        page.click("#acquire")
        expect(page.locator("#acquire-result")).to_contain_text("4枚受け取りました")

        page.goto(f"{base_url}/help")
        page.click("text=退会の手続きへ")
        expect(page).to_have_url(re.compile(r"/withdraw$"))
        expect(page.locator("#withdraw-unused")).to_contain_text("4枚")
        page.screenshot(path=str(ARTIFACTS / "w1_withdraw_confirm.png"), full_page=True)
        fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert fits, "the page scrolls sideways on a small phone"
        for button in ("#withdraw-submit", "#withdraw-cancel"):
            box = page.locator(button).bounding_box()
            size = page.locator(button).evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
            assert box["height"] >= 48 and box["width"] >= 0.75 * 360 and size >= 18, (
                button,
                box,
                size,
            )
        body = page.locator("ol.steps").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
        assert body >= 16

        page.click("#withdraw-cancel")  # changing one's mind changes nothing
        expect(page).to_have_url(re.compile(r"/help$"))
        page.click("text=退会の手続きへ")
        page.click("#withdraw-submit")
        expect(page).to_have_url(re.compile(r"/withdrawn$"))
        expect(page.locator("h1")).to_have_text("退会しました")
        page.screenshot(path=str(ARTIFACTS / "w2_withdrawn.png"), full_page=True)
        assert page.request.get(f"{base_url}/api/v1/me").status == 401
        assert blocked == []
        browser.close()
