"""The call centre's screens (Q-1..Q-3, D-1, C-2): the agent's console for a caller on the line,
the resident's timeline in plain Japanese, canned answers from the answer manual, the city's
escalations with their age and its answer, the secretariat's reports, the access log and the
exports."""

import datetime as dt
import getpass

import pytest
import webtest
from sqlalchemy import select, update

from kariya.clock import FixedClock
from kariya.coupons import ticker
from kariya.documents import versions
from kariya.documents.models import Document, DocumentVersion
from kariya.models import AccessRecord, Inquiry, InquiryEvent, Store
from kariya.residents import refs
from kariya.security import ROLE_PERMISSIONS
from tests.functional.callcenter_support import MONDAY_10, event, new_inquiry, staff_app, world
from tests.helpers import csrf_from, run_cli, write_cli_ini


@pytest.fixture
def agent(testapp, db, set_now):
    set_now(MONDAY_10)
    return staff_app(testapp, db, "agent")


def other_app(app):
    return webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.0.0.3"})


def log_call(testapp, **fields):
    home = testapp.get("/callcenter/")
    form = {
        "csrf_token": csrf_from(home.text),
        "caller_type": "resident",
        "channel": "phone",
        "category": "use",
        "subject": "確認コードの件",
        "body": "",
        **fields,
    }
    return testapp.post("/callcenter/inquiries", form)


def actions(db, action):
    db.expire_all()
    return list(db.scalars(select(AccessRecord).where(AccessRecord.action == action)))


def test_the_console_is_one_keyboard_friendly_screen(testapp, agent):
    home = testapp.get("/callcenter/")
    assert "コールセンター ホーム" in home.text
    subject = home.html.select_one("#subject")
    assert subject.has_attr("autofocus") and 'accesskey="n"' in str(subject)
    assert 'accesskey="f"' in str(home.html.select_one("input[name=q]"))
    assert home.html.select_one("#body").has_attr("data-submit-on-ctrl-enter")
    assert "受付時間中(2024年01月15日(月) 17:00まで)" in home.text


def test_an_agent_logs_a_call_about_a_confirmation_code_in_one_go(testapp, db, agent):
    w = world(db)
    done = log_call(testapp, confirmation_code=w.code.lower())
    assert done.status_code == 302
    page = done.follow()
    inquiry = db.scalar(select(Inquiry))
    assert inquiry.state == "open" and inquiry.assignee == "staff:agent"
    assert inquiry.person_id == w.person.id and inquiry.redemption_id is not None
    # The linked resident's timeline, in plain Japanese, is on the same screen...
    timeline = page.html.select_one("#timeline").text
    assert "1月15日 10:00 第1回の割引券4枚(2,000円分)を受け取りました" in timeline
    assert (
        f"1月15日 12:30 かりや青果店(S0001)で第1回の割引券2枚(1,000円)を利用"
        f"(お会計2,500円、確認コード {w.code})" in timeline
    )
    assert "第1回の未使用の割引券2枚は1月21日24時に期限切れになります" in timeline
    assert refs.display(w.person.ref) in page.text
    # ... and showing it was a look-up of personal data with this inquiry as the reason (D-1).
    (view,) = actions(db, "resident.view")
    assert (view.subject, view.inquiry_id, view.actor) == (w.person.ref, inquiry.id, "staff:agent")
    assert w.person.line_user_id not in page.text


def test_refused_input_comes_back_to_the_console_and_writes_nothing(testapp, db, agent):
    done = log_call(testapp, confirmation_code="ZZZZZZ")
    assert done.location.endswith("/callcenter/")
    assert "確認コードが見つかりません" in done.follow().text
    assert db.scalar(select(Inquiry.id)) is None


def test_expired_coupons_read_as_the_caller_would_say_it(testapp, db, agent, set_now):
    w = world(db)
    end = FixedClock(dt.datetime.fromisoformat("2024-01-22T00:00:05+09:00"))
    ticker.run_due(db, end, actor="test")
    db.commit()
    set_now("2024-01-22T10:00:00+09:00")
    page = log_call(testapp, person_ref=refs.display(w.person.ref)).follow()
    assert "第1回の割引券2枚は1月21日24時に期限切れ" in page.html.select_one("#timeline").text


def test_searching_on_the_inquirys_screen_finds_and_links_the_caller(testapp, db, agent):
    w = world(db)
    page = log_call(testapp).follow()
    inquiry = db.scalar(select(Inquiry))
    assert page.html.select_one("#q").has_attr("autofocus")  # nobody linked yet: search first
    found = testapp.get(f"/callcenter/inquiries/{inquiry.id}", {"q": "市民1"})
    assert refs.display(w.person.ref) in found.html.select_one("#people").text
    (search,) = actions(db, "resident.search")
    assert (search.subject, search.inquiry_id, search.detail) == (
        w.person.ref,
        inquiry.id,
        "q=市民1",
    )
    form = found.html.select_one("#people form")
    linked = testapp.post(
        form["action"], {"csrf_token": csrf_from(found.text), "person_ref": w.person.ref}
    ).follow()
    assert linked.html.select_one("#timeline") is not None
    assert linked.html.select_one("#note").has_attr("autofocus")


def test_no_personal_data_once_the_inquiry_is_closed(testapp, db, agent):
    w = world(db)
    i = new_inquiry(testapp, agent, person_ref=w.person.ref)["id"]
    for step in ("take", "resolve", "close"):
        event(testapp, agent, i, step)
    page = testapp.get(f"/callcenter/inquiries/{i}", {"q": w.person.ref})
    assert page.html.select_one("#timeline") is None and page.html.select_one("#people") is None
    assert "個人情報は表示できません" in page.text
    assert actions(db, "resident.view") == actions(db, "resident.search") == []


def test_stores_are_found_by_code_name_or_phone_with_the_account_masked(testapp, db, agent):
    w = world(db)
    db.execute(
        update(Store).values(
            phone="0566-23-4567", bank_code="0001", branch_code="001", account_number="1234567"
        )
    )
    db.commit()
    for q in ("S0001", "かりや", "カリヤ", "0566234567", "23-4567"):
        page = testapp.get("/callcenter/", {"q": q})
        assert "かりや青果店" in page.text, q
        assert "*****67" in page.text and "1234567" not in page.text
    assert w.store.code == "S0001"


def test_agents_change_nothing_about_money_nor_approve(testapp, db, agent):
    money = {p for p in ROLE_PERMISSIONS["agent"] if "payout" in p or "adjust" in p}
    money |= {p for p in ROLE_PERMISSIONS["agent"] if "bank" in p or "void" in p or "approve" in p}
    assert money == set()
    for path in ("/secretariat/payouts", "/city/payouts", "/secretariat/stores/S0001"):
        testapp.get(path, status=403)
    token = csrf_from(testapp.get("/callcenter/").text)
    testapp.post("/city/adjustments/1/approve", {"csrf_token": token}, status=403)
    testapp.post("/city/callcenter/transfers/1/approve", {"csrf_token": token}, status=403)
    denied = actions(db, "denied")
    assert len(denied) == 5 and {d.actor for d in denied} == {"staff:agent"}


def _publish_manual(db, change: str) -> None:
    """The secretariat publishes a new version of the answer manual, approved by the city."""
    clock = FixedClock(MONDAY_10)
    body = versions.published(db, "callcenter_manual").body + f"\n\n## 追記\n\n{change}\n"
    ver = versions.create(
        db, clock, "callcenter_manual", body=body, change_note=change, actor="staff:jimu"
    )
    versions.act(db, clock, ver, "submit", actor="staff:jimu", role="secretariat")
    versions.act(db, clock, ver, "approve", actor="staff:shi", role="city")
    versions.act(db, clock, ver, "publish", actor="staff:jimu", role="secretariat")
    db.commit()


def _notes(db):
    db.expire_all()
    return db.scalars(
        select(InquiryEvent).where(InquiryEvent.event == "note").order_by(InquiryEvent.id)
    ).all()


def test_canned_answers_from_the_manual_and_a_newer_manual_marks_the_old_quote(testapp, db, agent):
    """Q-3: the sections of the published answer manual (version 1, as `kariya initdb` leaves
    it) are offered beside the note and inserted into it; the note remembers the version; once
    the city has approved and the secretariat has published version 2, the note is marked as
    quoting the old version, and a note quoting it from a screen opened before is marked at
    once."""
    page = log_call(testapp).follow()
    inquiry = db.scalar(select(Inquiry))
    option = page.html.select_one("#section").find("option", string="使える期間(有効期限)")
    key = option["value"]
    assert key.startswith("sec-")
    assert page.html.select_one("input[name=manual_version]")["value"] == "1"
    # The manual beside the note offers the same section, with the text the note will quote.
    button = page.html.select_one(f"#manual .insert-answer[data-key={key}]")
    assert button["data-version"] == "1" and button["data-quote"] == option["data-text"]
    quoted = option["data-text"]
    assert quoted.startswith("【使える期間(有効期限)】\n") and "期限切れ" in quoted
    form = page.html.select_one("#next-step form")
    testapp.post(
        f"/callcenter/inquiries/{inquiry.id}/notes",
        {
            "csrf_token": csrf_from(page.text),
            "note": "期限を説明",
            "section": key,
            "manual_version": "1",
        },
    )
    note = _notes(db)[-1]
    assert note.note == f"期限を説明\n\n{quoted}"
    assert (note.manual_version, note.manual_section) == (1, key)
    # The console's script put the text in already (a browser sends CR LF): not twice.
    testapp.post(
        f"/callcenter/inquiries/{inquiry.id}/notes",
        {
            "csrf_token": csrf_from(page.text),
            "note": f"再度説明\n\n{quoted}".replace("\n", "\r\n"),
            "section": key,
            "manual_version": "1",
        },
    )
    assert _notes(db)[-1].note == f"再度説明\n\n{quoted}"
    assert form["action"].endswith(f"/callcenter/inquiries/{inquiry.id}/events")
    assert "旧版" not in testapp.get(f"/callcenter/inquiries/{inquiry.id}").text

    _publish_manual(db, "有効期限の説明を見直しました。")
    later = testapp.get(f"/callcenter/inquiries/{inquiry.id}")
    marks = later.html.select("#journal .alert-text")
    assert [m.text for m in marks] == ["旧版(第1版)の回答マニュアルを引用"] * 2
    assert "第2版(市承認済み)" in later.html.select_one("#manual").text
    assert later.html.select_one("input[name=manual_version]")["value"] == "2"
    # A screen opened before the new version quotes version 1: marked at once. The new version's
    # quote is not.
    testapp.post(
        f"/callcenter/inquiries/{inquiry.id}/notes",
        {"csrf_token": csrf_from(page.text), "note": "", "section": key, "manual_version": "1"},
    )
    testapp.post(
        f"/callcenter/inquiries/{inquiry.id}/notes",
        {"csrf_token": csrf_from(later.text), "note": "", "section": key, "manual_version": "2"},
    )
    old, new = _notes(db)[-2:]
    assert (old.manual_version, new.manual_version) == (1, 2)
    assert old.note == new.note == quoted
    journal = testapp.get(f"/callcenter/inquiries/{inquiry.id}").html.select("#journal li")
    assert ["旧版" in li.text for li in journal[-2:]] == [True, False]
    # A draft is never quoted: no version, no quote.
    testapp.post(
        f"/callcenter/inquiries/{inquiry.id}/notes",
        {
            "csrf_token": csrf_from(later.text),
            "note": "下書き",
            "section": key,
            "manual_version": "9",
        },
    )
    assert (_notes(db)[-1].note, _notes(db)[-1].manual_version) == ("下書き", None)


def test_the_timeline_links_the_manual_passage_that_explains_it(testapp, db, agent):
    w = world(db)
    page = log_call(testapp, person_ref=w.person.ref).follow()
    passages = {d.select_one("summary").text for d in page.html.select("#timeline details")}
    assert {"回答マニュアル: 受け取り方", "回答マニュアル: 使い方"} <= passages
    link = page.html.select_one("#timeline details a")["href"]
    assert page.html.select_one(f"#manual-text {link}") is not None


def test_without_a_published_manual_the_console_offers_no_canned_answers(testapp, db, agent):
    db.execute(
        update(DocumentVersion)
        .where(
            DocumentVersion.document_id
            == select(Document.id).where(Document.kind == "callcenter_manual").scalar_subquery()
        )
        .values(state="superseded")
    )
    db.commit()
    page = log_call(testapp).follow()
    assert page.html.select_one("#section") is None
    assert "応対マニュアルはまだ公開されていません" in page.html.select_one("#manual").text


def test_escalation_reaches_the_citys_home_at_once_with_its_age_and_the_answer_comes_back(
    testapp, db, app, agent, set_now
):
    i = new_inquiry(testapp, agent, category="complaint", subject="店で断られた")["id"]
    event(testapp, agent, i, "take")
    event(testapp, agent, i, "escalate", "登録店で割引券の利用を断られたとの苦情")
    set_now("2024-01-15T12:15:00+09:00")
    city = other_app(app)
    staff_app(city, db, "city")
    home = city.get("/city/")
    panel = home.html.select_one("#escalations").text
    assert "回答待ち 1 件" in panel and "店で断られた" in panel
    assert "2時間15分前(営業時間 2.2 時間)" in panel
    page = city.get(f"/city/callcenter/inquiries/{i}")
    assert "登録店で割引券の利用を断られたとの苦情" in page.text
    city.post(
        f"/city/callcenter/inquiries/{i}/answer",
        {"csrf_token": csrf_from(page.text), "note": "店舗に事務局から連絡します"},
    )
    assert "回答待ち 0 件" in city.get("/city/").text
    console = testapp.get("/callcenter/")
    assert "店で断られた" in console.html.select_one("#answered").text
    assert "店舗に事務局から連絡します" in testapp.get(f"/callcenter/inquiries/{i}").text


def test_the_secretariat_and_the_city_see_the_reports(testapp, db, app, agent, set_now):
    first = new_inquiry(testapp, agent, category="complaint")["id"]
    new_inquiry(testapp, agent, category="acquisition")
    event(testapp, agent, first, "take")
    event(testapp, agent, first, "escalate", "要約")
    set_now("2024-01-16T10:00:00+09:00")  # 8 business hours later
    city = other_app(app)
    city_headers = staff_app(city, db, "city")
    event(city, city_headers, first, "answer", "回答")
    event(testapp, agent, first, "resume")
    event(testapp, agent, first, "resolve")
    secretariat = other_app(app)
    staff_app(secretariat, db, "secretariat")
    page = secretariat.get("/secretariat/callcenter")
    report = page.html.select_one("#inquiry-report").text
    assert "全 2 件、市へ報告 1 件" in report
    assert "苦情・トラブル1" in report.replace("\n", "").replace(" ", "")
    assert "8.0 時間" in report  # both the resolution and the city's answer took 8 h
    assert "1月15日2" in report.replace("\n", "").replace(" ", "")
    assert "全 2 件" in city.get("/city/callcenter").text
    secretariat.get(f"/secretariat/callcenter/inquiries/{first}", status=200)


def test_the_access_log_pages_and_their_export_which_is_itself_recorded(testapp, db, app, agent):
    w = world(db)
    log_call(testapp, person_ref=w.person.ref).follow()
    for role in ("city", "secretariat"):
        client = other_app(app)
        staff_app(client, db, role)
        page = client.get(f"/{role}/access-log")
        assert "市民の利用状況の表示" in page.text and w.person.ref in page.text
        csv = client.get(f"/{role}/access-log.csv")
        assert csv.body.startswith("\ufeff".encode()) and w.person.ref.encode() in csv.body
    exports = actions(db, "export.access-log")
    assert [(e.role, e.subject) for e in exports] == [
        ("city", "access-log"),
        ("secretariat", "access-log"),
    ]
    testapp.get("/city/access-log", status=403)


def test_kariya_export_inquiries_and_the_access_log(testapp, db, agent, tmp_path):
    """C-2: the call-centre records for the city; every export is an access record."""
    w = world(db)
    new_inquiry(testapp, agent, person_ref=w.person.ref, subject="=HYPERLINK(1)")
    ini = write_cli_ini(tmp_path)
    out = tmp_path / "inquiries.csv"
    done = run_cli(ini, "export", "inquiries", "--out", str(out))
    assert done.returncode == 0, done.stderr
    text = out.read_bytes().decode("utf-8-sig")
    header, row = text.splitlines()[:2]
    assert header.startswith("No.,受付日時,受付方法,お問い合わせの相手,分類,件名")
    assert w.person.ref in row and "'=HYPERLINK(1)" in row
    assert w.person.line_user_id not in text
    xlsx = tmp_path / "access.xlsx"
    assert run_cli(ini, "export", "access-log", "--out", str(xlsx)).returncode == 0
    from openpyxl import load_workbook

    sheet = load_workbook(xlsx).active
    assert sheet.cell(1, 1).value == "日時"
    # The one exporter (kariya.reports.exports) records the account that ran the command.
    assert [(e.subject, e.actor) for e in actions(db, "export.inquiries")] == [
        ("inquiries", f"cli:{getpass.getuser()}")
    ]
    cp932 = run_cli(
        ini, "export", "inquiries", "--out", str(tmp_path / "x.csv"), "--encoding", "cp932"
    )
    assert cp932.returncode == 0
