"""Documents the city approves through the JSON calls of DESIGN.md section 5.2 (C-4, Q-3, S-3,
D-1): every transition of the document machine and every refusal (a second draft, publishing
before approval, the author approving, an agent approving, a request for changes without a
reason, two operators submitting at once), bad input that saves nothing, who may read what,
any store manual version as PDF, and the call-centre manual's sections."""

import io
import zipfile

import pypdfium2 as pdfium
import pytest
from sqlalchemy import func, select

from kariya.clock import FixedClock
from kariya.documents import versions
from kariya.documents.models import DocumentVersion
from kariya.errors import DomainError
from kariya.materials import jobs, sets
from kariya.models import OutboundMail, Store, StoreNotice, TransitionRecord
from tests.helpers import (
    PASSWORD,
    ROUND1,
    load_campaign,
    login_resident,
    login_staff,
    make_store,
    make_user,
)

TERMS_V2 = "# 利用規約(第2版)\n\n新しい条文です。受付は午前10時からです。\n"


def staff(testapp, db, role, username):
    """A logged-in staff client and its CSRF header (GET /api/v1/staff/me)."""
    make_user(db, role, username=username)
    app = testapp.__class__(testapp.app, extra_environ={"HTTP_HOST": "localhost"})
    login_staff(app, username, PASSWORD)
    me = app.get("/api/v1/staff/me").json
    assert me["username"] == username and me["role"] == role
    app.headers = {"X-CSRF-Token": me["csrf_token"]}
    return app


class Staff:
    def __init__(self, app):
        self.app = app

    def post(self, url, body, status=200):
        return self.app.post_json(url, body, headers=self.app.headers, status=status)

    def put(self, url, body, status=200):
        return self.app.put_json(url, body, headers=self.app.headers, status=status)

    def get(self, url, params=None, status=200):
        return self.app.get(url, params or {}, status=status)

    def event(self, kind, number, event, note="", status=200):
        return self.post(
            f"/api/v1/staff/documents/{kind}/versions/{number}/events",
            {"event": event, "note": note},
            status=status,
        )


@pytest.fixture
def author(testapp, db):
    return Staff(staff(testapp, db, "secretariat", "jimu1"))


@pytest.fixture
def people(testapp, db):
    return {
        "author": Staff(staff(testapp, db, "secretariat", "jimu1")),
        "colleague": Staff(staff(testapp, db, "secretariat", "jimu2")),
        "city": Staff(staff(testapp, db, "city", "shi")),
        "agent": Staff(staff(testapp, db, "agent", "cc")),
    }


def versions_count(db) -> int:
    return db.scalar(select(func.count()).select_from(DocumentVersion))


def test_initdb_leaves_version_1_of_each_published(people):
    """DESIGN 5.2: kariya initdb publishes the texts the project ships as version 1."""
    listed = people["agent"].get("/api/v1/staff/documents").json["documents"]
    assert listed == [
        {
            "kind": kind,
            "title": title,
            "published_version": 1,
            "draft_version": None,
            "draft_state": None,
        }
        for kind, title in (
            ("store_manual", "取扱店マニュアル"),
            ("callcenter_manual", "コールセンター応対マニュアル"),
            ("terms", "利用規約・プライバシーポリシー"),
        )
    ]


def test_every_transition_and_refusal(people, db, testapp):
    """C-4: draft -> submitted -> changes_requested -> draft -> submitted -> approved ->
    published, the old version superseded; a second draft, publishing before approval, the
    author approving (SAME_PERSON), an agent or another secretariat approving (FORBIDDEN), a
    request for changes without a reason, the city publishing: all refused, nothing moved."""
    author, colleague, city, agent = (people[k] for k in ("author", "colleague", "city", "agent"))
    url = "/api/v1/staff/documents/terms/versions"
    created = author.post(url, {"body": TERMS_V2, "change_note": "受付時間の変更"}, status=201)
    assert created.json == {"kind": "terms", "version": 2, "state": "draft"}
    second = colleague.post(url, {"body": "# 別案", "change_note": "別案"}, status=409)
    assert second.json["error"] == "DRAFT_EXISTS" and "公開前の版" in second.json["message"]
    city.post(url, {"body": "# 市の案", "change_note": "市"}, status=403)  # only the secretariat

    early = author.event("terms", 2, "publish", status=409)
    assert early.json["error"] == "BAD_TRANSITION"
    assert author.event("terms", 2, "submit").json["state"] == "submitted"
    again = colleague.event("terms", 2, "submit", status=409)  # the second operator loses
    assert again.json["error"] == "BAD_TRANSITION"

    assert author.event("terms", 2, "approve", status=409).json["error"] == "SAME_PERSON"
    assert agent.event("terms", 2, "approve", status=403).json["error"] == "FORBIDDEN"
    assert colleague.event("terms", 2, "approve", status=403).json["error"] == "FORBIDDEN"
    no_reason = city.event("terms", 2, "request_changes", status=422)
    assert "理由" in no_reason.json["message"]
    assert city.event("terms", 2, "bogus", status=422).json["error"] == "INVALID"

    moved = city.event("terms", 2, "request_changes", note="第5条の表現を見直してください")
    assert moved.json["state"] == "changes_requested"
    assert author.get(f"{url}/2").json["decision_note"] == "第5条の表現を見直してください"
    edited = colleague.put(
        f"{url}/2", {"body": TERMS_V2 + "\n追記しました。\n", "change_note": "第5条を修正"}
    )
    assert edited.json["state"] == "draft"  # changes_requested -> draft
    colleague.event("terms", 2, "submit")
    # The colleague edited and submitted, the author wrote it: neither may decide.
    assert author.event("terms", 2, "approve", status=409).json["error"] == "SAME_PERSON"
    assert city.event("terms", 2, "approve", note="確認しました").json["state"] == "approved"
    assert city.event("terms", 2, "publish", status=403).json["error"] == "FORBIDDEN"
    author.put(f"{url}/2", {"body": "# 差し替え", "change_note": "x"}, status=409)  # approved
    assert author.event("terms", 2, "publish").json["state"] == "published"
    author.put(f"{url}/2", {"body": "# 差し替え", "change_note": "x"}, status=409)  # published

    listed = author.get(url).json["versions"]
    assert [(v["version"], v["state"]) for v in listed] == [(2, "published"), (1, "superseded")]
    assert listed[0]["approved_by"] == "staff:shi" and listed[0]["submitted_by"] == "staff:jimu2"
    assert listed[1]["superseded_at"] is not None
    events = [e["event"] for e in author.get(f"{url}/2").json["events"]]
    assert events == ["submit", "request_changes", "redraft", "submit", "approve", "publish"]
    published = testapp.get("/api/v1/documents/terms").json
    assert (
        published["version"] == 2 and published["body"] == TERMS_V2.rstrip() + "\n\n追記しました。"
    )
    assert "<h1" in published["html"] and "新しい条文です" in published["html"]
    assert author.get("/api/v1/staff/documents").json["documents"][2] == {
        "kind": "terms",
        "title": "利用規約・プライバシーポリシー",
        "published_version": 2,
        "draft_version": None,
        "draft_state": None,
    }
    # A new version is possible again, numbered 3.
    assert author.post(url, {"body": "# 3", "change_note": "次"}, status=201).json["version"] == 3


@pytest.mark.parametrize(
    "body,note,words",
    [
        ("# 規約\n\n<script>alert(1)</script>\n", "x", "HTMLのタグ"),
        ("# 規約\n\n<b>太字</b>です\n", "x", "HTMLのタグ"),
        ("[ここ](javascript:alert(1))", "x", "javascript:alert(1)"),
        ("[ここ](JaVa&#9;ScRiPt:alert(1))", "x", "使えません"),
        ("<javascript:alert(1)>", "x", "リンク先"),
        ("[r]\n\n[r]: data:text/html;base64,PHNjcmlwdD4=", "x", "リンク先"),
        ("![写真](https://example.jp/a.png)", "x", "画像"),
        ("# 規約\n\n{no_such_thing}円", "x", "{no_such_thing}"),
        ("あ" * 50_001, "x", "50,000文字以内"),
        ("   \n", "x", "本文を入力"),
        ("# 規約", "   ", "変更メモ"),
        ("# 規約", "メモ" * 300, "変更メモは500文字以内"),
    ],
)
def test_bad_input_is_refused_in_japanese_and_saves_nothing(author, db, body, note, words):
    before = versions_count(db)
    refused = author.post(
        "/api/v1/staff/documents/store_manual/versions",
        {"body": body, "change_note": note},
        status=422,
    )
    assert refused.json["error"] == "INVALID" and words in refused.json["message"]
    assert versions_count(db) == before


def test_allowed_links_and_markup_are_kept_and_rendered_safely(author):
    body = (
        "# 規約\n\n"
        "[市のサイト](https://www.city.kariya.lg.jp/) ・ [メール](mailto:info@example.jp) ・ "
        "[除外品目](/excluded)\n\n1枚{face}、&lt;b&gt; は文字です。\n"
    )
    author.post(
        "/api/v1/staff/documents/terms/versions", {"body": body, "change_note": "リンク"}, 201
    )
    shown = author.get("/api/v1/staff/documents/terms/versions/2").json
    assert 'href="https://www.city.kariya.lg.jp/"' in shown["html"]
    assert 'href="mailto:info@example.jp"' in shown["html"] and 'href="/excluded"' in shown["html"]
    assert "&lt;b&gt;" in shown["html"] and "<b>" not in shown["html"]
    assert "(未定)" in shown["html"]  # no campaign yet: the number is not made up


def test_who_may_read_which_document(people, testapp, db):
    """D-1: the terms are public; the manuals are for staff (401 anonymous, 403 a resident)."""
    terms = testapp.get("/api/v1/documents/terms").json
    assert terms["version"] == 1 and "LINEのユーザーID" in terms["html"]
    assert terms["published_at"] == "2024-01-01T00:00:00+09:00"
    assert testapp.get("/api/v1/documents/store_manual", status=401).json["error"] == (
        "UNAUTHENTICATED"
    )
    testapp.get("/api/v1/staff/documents", status=401)
    login_resident(testapp)
    assert testapp.get("/api/v1/documents/callcenter_manual", status=403).json["error"] == (
        "FORBIDDEN"
    )
    testapp.get("/api/v1/staff/documents", status=403)
    assert people["agent"].get("/api/v1/documents/callcenter_manual").json["version"] == 1
    assert people["agent"].get("/api/v1/documents/nothing", status=404).json["error"] == (
        "NOT_FOUND"
    )


def test_two_operators_submitting_at_once_one_wins(people, session_factory, db):
    """The compare-and-set of the binding: both read the draft, the first submit commits, the
    second (with its stale row) gets BAD_TRANSITION and writes nothing."""
    people["author"].post(
        "/api/v1/staff/documents/terms/versions",
        {"body": TERMS_V2, "change_note": "受付時間"},
        status=201,
    )
    first, second = session_factory(), session_factory()
    try:
        mine = versions.version(first, "terms", 2)
        theirs = versions.version(second, "terms", 2)
        assert mine.state == theirs.state == "draft"
        clock = FixedClock(ROUND1)
        versions.act(first, clock, mine, "submit", actor="staff:jimu1", role="secretariat")
        first.commit()
        with pytest.raises(DomainError) as lost:
            versions.act(second, clock, theirs, "submit", actor="staff:jimu2", role="secretariat")
        assert lost.value.code == "BAD_TRANSITION"
        second.rollback()
    finally:
        first.close()
        second.close()
    records = db.scalars(
        select(TransitionRecord.actor).where(
            TransitionRecord.machine == "document", TransitionRecord.event == "submit"
        )
    ).all()
    assert records == ["staff:jimu1"]


def test_the_city_never_decides_on_a_version_it_submitted(db):
    """Four eyes by account, whatever the role: an account that wrote or submitted a version
    may not approve it or ask for changes (a city account here, if one ever wrote one)."""
    clock = FixedClock(ROUND1)
    ver = versions.create(db, clock, "terms", body="# 2", change_note="二", actor="staff:shi")
    versions.act(db, clock, ver, "submit", actor="staff:other", role="secretariat")
    for actor in ("staff:shi", "staff:other"):
        for event in ("approve", "request_changes"):
            with pytest.raises(DomainError) as refused:
                versions.act(db, clock, ver, event, actor=actor, role="city", note="x")
            assert refused.value.code == "SAME_PERSON"
    db.rollback()


def pdf_text(data: bytes) -> str:
    pdf = pdfium.PdfDocument(data)
    try:
        return "".join(page.get_textpage().get_text_range() for page in pdf).replace("\r\n", "")
    finally:
        pdf.close()


def test_a_new_store_manual_version_is_printed_with_its_new_text(people, db, testapp):
    """S-3, S-4, C-4: any version as PDF; once published, the stores' sets carry it, every
    store is told, and a bulk set built with the old version is out of date."""
    load_campaign(db)
    make_store(db, "S0001", "かりや青果店").email = "seika@example.jp"
    db.commit()
    author, city = people["author"], people["city"]
    old = author.get("/api/v1/staff/documents/store_manual/versions/1.pdf")
    assert old.content_type == "application/pdf" and "取扱店マニュアル" in pdf_text(old.body)
    body = author.get("/api/v1/staff/documents/store_manual/versions/1").json["body"]
    body = body.replace(
        "## 9. お問い合わせ",
        "## 9. 新しい受付窓口のご案内\n\n土曜日も受け付けます。\n\n## 10. お問い合わせ",
    )
    author.post(
        "/api/v1/staff/documents/store_manual/versions",
        {"body": body, "change_note": "土曜日の受付を追加"},
        status=201,
    )
    draft = pdf_text(author.get("/api/v1/staff/documents/store_manual/versions/2.pdf").body)
    assert "土曜日も受け付けます" in draft and "第2版(案)" in draft
    assert "1,000円以上" in draft  # the placeholders are filled in from the campaign
    assert "土曜日も受け付けます" not in pdf_text(
        author.get("/api/v1/staff/documents/store_manual/versions/1.pdf").body
    )
    author.get("/api/v1/staff/documents/store_manual/versions/9.pdf", status=404)

    store = db.scalar(select(Store).where(Store.code == "S0001"))
    settings = testapp.app.registry.settings
    job = jobs.start_job(db, settings, actor="staff:jimu1")
    db.commit()
    jobs.run_job(db, FixedClock(ROUND1), settings, job.id)
    db.commit()
    db.expire_all()
    assert jobs.read(db, job.id).manual_version == 1 and not jobs.read(db, job.id).out_of_date

    author.event("store_manual", 2, "submit")
    city.event("store_manual", 2, "approve")
    author.event("store_manual", 2, "publish")
    db.expire_all()
    data = sets.store_zip(db, settings, store)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        manual = pdf_text(archive.read("S0001/S0001_manual.pdf"))
    assert "土曜日も受け付けます" in manual and "第2版" in manual
    assert jobs.read(db, job.id).out_of_date  # rebuild: the bulk ZIP has version 1
    notice = db.scalar(select(StoreNotice))
    assert notice.title == "取扱店マニュアル改訂のお知らせ(第2版)"
    assert "土曜日の受付を追加" in notice.body
    mail = db.scalar(select(OutboundMail).where(OutboundMail.ref == f"notice:{notice.id}"))
    assert mail.to_addr == "seika@example.jp"


def test_the_callcenter_manual_sections_are_canned_answers(people):
    """Q-3: the published answer manual as sections {id, anchor, heading, text}, searchable."""
    found = people["agent"].get("/api/v1/staff/documents/callcenter_manual/sections").json
    assert found["version"] == 1
    headings = [s["heading"] for s in found["sections"]]
    assert "スマートフォンをなくした・機種を変えた" in headings
    lost = found["sections"][headings.index("スマートフォンをなくした・機種を変えた")]
    assert lost["anchor"] == "#" + lost["id"] and "LINEアカウント" in lost["text"]
    hits = (
        people["agent"]
        .get("/api/v1/staff/documents/callcenter_manual/sections", {"q": "機種"})
        .json["sections"]
    )
    assert hits[0]["heading"] == "スマートフォンをなくした・機種を変えた"
    assert "<mark>機種</mark>" in hits[0]["heading_html"]
    # Full-width and half-width, upper and lower case are the same to the search.
    assert (
        people["agent"]
        .get("/api/v1/staff/documents/callcenter_manual/sections", {"q": "ＬＩＮＥ"})
        .json["sections"]
    )
