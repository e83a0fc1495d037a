"""The documents' screens (C-4, Q-3, I-1, D-1): the secretariat writes with a live preview and
submits, the city sees what awaits it and reviews a diff by character, the secretariat
publishes; agents read and search the answer manual beside their console; a resident who agreed
to the terms is asked again after they change, before the next acquisition."""

import pytest
from sqlalchemy import func, select

from kariya.clock import FixedClock
from kariya.documents import versions
from kariya.documents.models import DocumentVersion, TermsConsent
from tests.helpers import (
    PASSWORD,
    ROUND1,
    csrf_from,
    load_campaign,
    login_resident,
    login_staff,
    make_user,
)


def staff_app(testapp, db, role, username):
    make_user(db, role, username=username)
    app = testapp.__class__(testapp.app, extra_environ={"HTTP_HOST": "localhost"})
    login_staff(app, username, PASSWORD)
    return app


def post_form(app, page_url, action_url, fields, status=302):
    page = app.get(page_url)
    return app.post(action_url, {**fields, "csrf_token": csrf_from(page.text)}, status=status)


def count_versions(db) -> int:
    return db.scalar(select(func.count()).select_from(DocumentVersion))


@pytest.fixture
def campaign(db):
    return load_campaign(db)


def test_secretariat_writes_with_a_preview_and_submits(testapp, db, campaign):
    """The editor starts from the published text; the preview fills in the campaign's numbers;
    bad input is explained and saves nothing; a saved draft is submitted to the city."""
    office = staff_app(testapp, db, "secretariat", "jimu1")
    listing = office.get("/secretariat/documents")
    assert "コールセンター応対マニュアル" in listing.text and "第1版" in listing.text
    editor = office.get("/secretariat/documents/callcenter_manual/new")
    assert "## 5. スマートフォンとLINEのトラブル" in editor.text  # the published text
    assert "{bill_rule}" in editor.text and "1枚ご利用はお会計1,000円以上" in editor.text
    assert "documents.js" in editor.text  # the live preview's script, served locally
    token = csrf_from(editor.text)
    preview = office.post(
        "/secretariat/documents/preview",
        {"body": "# 案\n\n1枚{face}、{store_limit_rule}\n\n<b>x</b>", "csrf_token": token},
    )
    assert "1枚500円" in preview.text and "同じお店で使えるのは" in preview.text
    assert "HTMLのタグは使えません" in preview.text and "<b>x</b>" not in preview.text

    bad = office.post(
        "/secretariat/documents/callcenter_manual/new",
        {"body": "# 案\n\n[x](javascript:alert(1))", "change_note": "", "csrf_token": token},
        status=422,
    )
    assert "変更メモ" in bad.text and "リンク先" in bad.text and "# 案" in bad.text
    assert count_versions(db) == 3

    body = editor.html.find("textarea").text.replace("受付時間は", "受付時間(電話)は")
    saved = office.post(
        "/secretariat/documents/callcenter_manual/new",
        {"body": body, "change_note": "受付時間の書き方", "action": "save", "csrf_token": token},
        status=302,
    )
    assert saved.location.endswith("/secretariat/documents/callcenter_manual/versions/2")
    page = office.get(saved.location)
    assert "作成中" in page.text and "<ins>(電話)</ins>" in page.text
    office.post(
        "/secretariat/documents/callcenter_manual/versions/2/events",
        {"event": "submit", "csrf_token": csrf_from(page.text)},
        status=302,
    )
    # The draft cannot be edited once submitted; a second new version is refused.
    assert "承認待ち" in office.get(saved.location).text
    again = post_form(
        office,
        "/secretariat/documents/callcenter_manual",
        "/secretariat/documents/callcenter_manual/new",
        {"body": "# 別案", "change_note": "別案", "action": "save"},
        status=409,
    )
    assert "公開前の版がすでにあります" in again.text


def test_the_city_reviews_a_diff_asks_for_changes_then_approves(testapp, db, campaign):
    clock = FixedClock(ROUND1)
    old = versions.published(db, "terms").body
    new = old.replace(
        "お名前・住所・電話番号・生年月日はうかがいません。",
        "お名前・住所・電話番号はうかがいません。",
    )
    new = new.replace("## 第6条 規約の変更", "## 第6条 規約の変更(改定)")
    ver = versions.create(
        db, clock, "terms", body=new, change_note="第5条と第6条", actor="staff:jimu1"
    )
    versions.act(db, clock, ver, "submit", actor="staff:jimu1", role="secretariat")
    db.commit()
    city = staff_app(testapp, db, "city", "shi")
    home = city.get("/city/")
    assert "承認をお待ちしている文書(1件)" in home.text and "第5条と第6条" in home.text
    review_url = "/city/documents/terms/versions/2"
    assert review_url in home.text
    review = city.get(review_url)
    diff = review.html.find(id="diff").decode_contents()
    assert "<del>・生年月日</del>" in diff  # a deletion inside a line, by character
    assert "<ins>(改定)</ins>" in diff
    assert "変更のない" in diff  # long unchanged stretches are folded
    assert "追加 <strong>4</strong>文字 / 削除 <strong>5</strong>文字" in review.text

    missing = post_form(
        city,
        review_url,
        review_url + "/events",
        {"event": "request_changes", "note": ""},
        status=422,
    )
    assert "理由を入力してください" in missing.text
    post_form(
        city, review_url, review_url + "/events", {"event": "request_changes", "note": "表現を統一"}
    )
    db.expire_all()
    assert versions.version(db, "terms", 2).state == "changes_requested"
    office = staff_app(testapp, db, "secretariat", "jimu2")
    page = office.get("/secretariat/documents/terms/versions/2")
    assert "表現を統一" in page.text and "修正する" in page.text
    post_form(
        office,
        "/secretariat/documents/terms/versions/2/edit",
        "/secretariat/documents/terms/versions/2/edit",
        {"body": new + "\n", "change_note": "第5条と第6条(表現を統一)", "action": "save"},
    )
    post_form(
        office,
        "/secretariat/documents/terms/versions/2",
        "/secretariat/documents/terms/versions/2/events",
        {"event": "submit"},
    )
    post_form(city, review_url, review_url + "/events", {"event": "approve", "note": ""})
    assert "承認待ちの文書はありません" in city.get("/city/").text
    published = post_form(
        office,
        "/secretariat/documents/terms/versions/2",
        "/secretariat/documents/terms/versions/2/events",
        {"event": "publish"},
    )
    page = office.get(published.location)
    assert "公開中" in page.text and "新しい内容への同意をお願いします" in page.text
    history = office.get("/secretariat/documents/terms").html.find(id="history").text
    assert "旧版" in history and "表現を統一" in history


def test_other_roles_cannot_use_the_document_screens(testapp, db):
    agent = staff_app(testapp, db, "agent", "cc")
    agent.get("/secretariat/documents", status=403)
    agent.get("/city/documents/terms/versions/1", status=403)
    city = staff_app(testapp, db, "city", "shi")
    city.get("/secretariat/documents/terms/new", status=403)
    forbidden = post_form(
        city,
        "/city/documents/terms/versions/1",
        "/city/documents/terms/versions/1/events",
        {"event": "publish"},
        status=403,
    )
    assert "権限" in forbidden.text


def test_agents_read_and_search_the_answer_manual_beside_the_console(testapp, db, campaign):
    """Q-3: the approved manual next to the console, with the campaign's numbers; a search over
    headings and text marks its matches; every section can be inserted as an answer."""
    agent = staff_app(testapp, db, "agent", "cc")
    home = agent.get("/callcenter/")
    manual = home.html.find(id="manual-text").text
    assert "1枚ご利用はお会計1,000円以上、2枚同時は2,000円以上" in manual
    assert "不動産の購入・賃料" in manual  # the excluded items (I-8)
    assert "第1版(市承認済み)" in home.text
    found = agent.get("/callcenter/", {"mq": "おつり"})
    hits = found.html.find(id="manual-hits")
    assert "<mark>おつり</mark>" in hits.decode_contents()
    buttons = hits.find_all("button", class_="insert-answer")
    assert buttons and buttons[0]["data-heading"] == "おつり・払い戻し・譲渡"
    assert "現金と交換できません" in buttons[0]["data-text"]
    nothing = agent.get("/callcenter/manual", {"q": "存在しない言葉"})
    assert "見つかりませんでした" in nothing.text


def _terms_v2(db, text: str = "第3条に追記しました。") -> None:
    """The secretariat publishes a new version of the terms, approved by the city."""
    clock = FixedClock(ROUND1)
    body = versions.published(db, "terms").body.replace(
        "## 第4条 してはいけないこと", f"{text}\n\n## 第4条 してはいけないこと"
    )
    ver = versions.create(db, clock, "terms", body=body, change_note="追記", actor="staff:jimu")
    versions.act(db, clock, ver, "submit", actor="staff:jimu", role="secretariat")
    versions.act(db, clock, ver, "approve", actor="staff:shi", role="city")
    versions.act(db, clock, ver, "publish", actor="staff:jimu", role="secretariat")
    db.commit()


def test_a_resident_is_asked_again_after_the_terms_change(testapp, db, set_now):
    """I-1, D-1: the first visit shows the terms; after a new version is published the resident
    must agree again (needs_consent, 403 CONSENT_REQUIRED) and is asked before acquiring; the
    version each person agreed to is recorded with the time."""
    load_campaign(db)
    set_now(ROUND1.replace(hour=10))
    testapp.put_json("/dev/clock", {"now": ROUND1.replace(hour=10).isoformat(), "frozen": True})
    login_resident(testapp, profile=False)
    first = testapp.get("/profile")
    assert "利用規約・プライバシーポリシー(第1版)" in first.text
    assert "LINEのユーザーID" in first.html.find(id="terms-text").text  # shown, not linked
    token = csrf_from(first.text)
    testapp.post(
        "/profile",
        {"age_band": "30s", "area": "kariya", "agreed_terms": "1", "csrf_token": token},
        status=302,
    )
    me = testapp.get("/api/v1/me").json
    assert me["needs_consent"] is False
    assert testapp.get("/api/v1/profile-options").json["terms_version"] == 1

    _terms_v2(db)
    me = testapp.get("/api/v1/me").json
    assert me["needs_consent"] is True
    assert testapp.get("/api/v1/profile-options").json["terms_version"] == 2
    assert testapp.get("/api/v1/rounds/current").json["reason"] == "CONSENT_REQUIRED"
    refused = testapp.post(
        "/api/v1/acquisitions", headers={"X-CSRF-Token": me["csrf_token"]}, status=403
    )
    assert refused.json["error"] == "CONSENT_REQUIRED" and "改定" in refused.json["message"]
    home = testapp.get("/home", status=302)
    assert home.location.endswith("/terms?next=%2Fhome")
    page = testapp.get(home.location)
    assert "第1版から第2版に変わりました" in page.text and "第3条に追記しました。" in page.text
    stale = testapp.post(
        "/terms",
        {"agreed_terms": "1", "next": "/home", "csrf_token": csrf_from(page.text)},
        status=422,
    )
    assert "最新の内容(第2版)" in stale.text
    done = testapp.post(
        "/terms",
        {"agreed_terms": "2", "next": "/home", "csrf_token": csrf_from(page.text)},
        status=302,
    )
    assert done.location.endswith("/home")
    assert testapp.get("/api/v1/me").json["needs_consent"] is False
    testapp.post("/api/v1/acquisitions", headers={"X-CSRF-Token": me["csrf_token"]}, status=201)
    consents = db.execute(select(TermsConsent.version, TermsConsent.agreed_at)).all()
    assert [v for v, _ in sorted(consents)] == [1, 2]
    assert all(at is not None for _, at in consents)


def test_the_api_agreement_is_the_published_version_number(testapp, db):
    """DESIGN 5.1: PUT /me/profile takes agreed_terms, the number GET /profile-options gives."""
    token = login_resident(testapp, profile=False)
    options = testapp.get("/api/v1/profile-options").json
    missing = testapp.put_json(
        "/api/v1/me/profile",
        {"age_band": "20s", "area": "kariya"},
        headers={"X-CSRF-Token": token},
        status=422,
    )
    assert missing.json["error"] == "INVALID"
    assert testapp.get("/api/v1/me").json["needs_consent"] is True
    testapp.put_json(
        "/api/v1/me/profile",
        {"age_band": "20s", "area": "kariya", "agreed_terms": options["terms_version"]},
        headers={"X-CSRF-Token": token},
    )
    assert testapp.get("/api/v1/me").json["needs_consent"] is False
    _terms_v2(db)
    # The same call agrees again; an old number is refused with the current one named.
    old = testapp.put_json(
        "/api/v1/me/profile",
        {"age_band": "20s", "area": "kariya", "agreed_terms": 1},
        headers={"X-CSRF-Token": token},
        status=422,
    )
    assert old.json["error"] == "INVALID" and "最新の内容(第2版)" in old.json["message"]
    testapp.put_json(
        "/api/v1/me/profile",
        {"age_band": "20s", "area": "kariya", "agreed_terms": 2},
        headers={"X-CSRF-Token": token},
    )
    assert testapp.get("/api/v1/me").json["needs_consent"] is False


def test_the_terms_are_public_at_slash_terms(testapp):
    page = testapp.get("/terms")
    text = page.html.find(id="terms-text").text
    for words in (
        "年代・お住まいの地区",
        "LINEのユーザーID",
        "LINEの表示名",
        "保存する期間",
        "利用をやめたいとき",
    ):
        assert words in text, words
    assert "同意して続ける" not in page.text  # nobody to agree
