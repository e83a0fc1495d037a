"""Notices to stores (S-4; issue #5 item 6): the secretariat writes a notice, it shows on every
active store's portal until that store reads it, and it is mailed to every active store with an
address, over a real SMTP server (aiosmtpd) started by these tests."""

from __future__ import annotations

import email
import email.policy
import smtplib
import socket
import threading
from email.message import EmailMessage

import pytest
import webtest
from aiosmtpd.controller import Controller
from pyramid.exceptions import ConfigurationError
from sqlalchemy import func, select

from kariya import make_config
from kariya import settings as kariya_settings
from kariya.clock import FixedClock
from kariya.dev import MAIL_SINK_KEY, mail_sink
from kariya.mail import outbox
from kariya.models import OutboundMail, StoreNotice, StoreNoticeRead
from kariya.settings import settings_of
from tasks import celery_app
from tests.conftest import BASE_SETTINGS
from tests.helpers import csrf_from, load_campaign, login_staff, make_store, make_user

PUBLIC_URL = "https://coupon.example.jp"
WARNING = "全登録店に通知します(メールも送信されます)"
TITLE = "第3回の配布期間の変更について"
BODY = "第3回の配布期間を1月29日(月)から2月4日(日)までに変更します。\nご確認ください。"
MAX_ATTEMPTS = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpServer:
    """A real SMTP server on 127.0.0.1 that keeps what it receives (and can go down)."""

    def __init__(self, port: int):
        self.port = port
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append((list(envelope.rcpt_tos), msg))
        return "250 Message accepted for delivery"

    def start(self):
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self):
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, addr: str) -> list[EmailMessage]:
        return [m for rcpts, m in self.messages if addr in rcpts]


@pytest.fixture(scope="module")
def smtp_port():
    return free_port()


@pytest.fixture
def smtp(smtp_port):
    server = SmtpServer(smtp_port)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def notice_config(engine, smtp_port):
    """The app with its SMTP settings pointing at the test's server."""
    saved = celery_app.registry
    config = make_config(
        {
            **BASE_SETTINGS,
            "kariya.public_url": PUBLIC_URL,
            "kariya.smtp.host": "127.0.0.1",
            "kariya.smtp.port": str(smtp_port),
            "kariya.smtp.timeout_seconds": "5",
            "kariya.smtp.max_attempts": str(MAX_ATTEMPTS),
        }
    )
    app = config.make_wsgi_app()
    celery_app.registry = saved  # other modules' tasks keep their own app
    return config.registry, app


def browser(notice_config, db, role, username, store_code=None):
    make_user(db, role, username=username, store_code=store_code)
    # The app answers as its public URL whatever the Host (issue 14), so the browser addresses
    # it there (its cookie follows the links) and, over https, its POSTs carry their Origin.
    client = webtest.TestApp(
        notice_config[1],
        extra_environ={
            "HTTP_HOST": "coupon.example.jp",
            "wsgi.url_scheme": "https",
            "HTTP_ORIGIN": PUBLIC_URL,
        },
    )
    login_staff(client, username)
    return client


@pytest.fixture
def shops(db, set_now):
    """Three active stores (two with an address), one not yet active with an address."""
    load_campaign(db)
    set_now("2024-01-16T10:00:00+09:00")
    made = {}
    for code, name, email_addr, active in (
        ("S0001", "かりや青果店", "seika@example.jp", True),
        ("S0002", "刈谷パン工房", "pan@example.jp", True),
        ("S0003", "アドレスなし商店", "", True),
        ("S0004", "審査中の店", "review@example.jp", False),
    ):
        store = make_store(db, code, name, active=active)
        store.email = email_addr
        made[code] = store
    db.commit()
    return made


def publish(client, title=TITLE, body=BODY, status=302):
    """Through the screen: the form (with its warning), the confirmation, then publish."""
    page = client.get("/secretariat/notices")
    assert WARNING in page.text
    token = csrf_from(page.text)
    fields = {"title": title, "body": body, "csrf_token": token}
    confirm = client.post("/secretariat/notices", {**fields, "action": "preview"})
    assert WARNING in confirm.text and "全登録店に通知する" in confirm.text
    assert title.strip() in confirm.text
    return client.post("/secretariat/notices", {**fields, "action": "publish"}, status=status)


def count(db, model, *where):
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model).where(*where))


def mark_read(client, notice_id, status=302, **extra):
    page = client.get("/store/")
    return client.post(
        f"/store/notices/{notice_id}/read",
        {"csrf_token": csrf_from(page.text), **extra},
        status=status,
    )


def test_a_notice_is_mailed_once_to_every_active_store_with_an_address(
    notice_config, db, shops, smtp
):
    """S-4: publishing from the secretariat's screen mails every active store that gave an
    address, exactly once, in Japanese; stores without an address or not active get nothing."""
    secretariat = browser(notice_config, db, "secretariat", "sec1")
    assert "登録店へのお知らせ" in secretariat.get("/secretariat/").text

    done = publish(secretariat).follow()
    notice = db.scalar(select(StoreNotice))
    assert done.request.path == f"/secretariat/notices/{notice.id}"
    assert "全登録店に通知しました" in done.text

    assert sorted(r for rcpts, _ in smtp.messages for r in rcpts) == [
        "pan@example.jp",
        "seika@example.jp",
    ]
    for addr, name in (("seika@example.jp", "かりや青果店"), ("pan@example.jp", "刈谷パン工房")):
        (msg,) = smtp.to(addr)
        assert msg["Subject"] == f"【刈谷市電子割引券】事務局からのお知らせ: {TITLE}"
        text = msg.get_body(preferencelist=("plain",)).get_content()
        assert f"{name} 御中" in text
        assert BODY in text
        assert f"{PUBLIC_URL}/store/" in text
        assert "刈谷市電子割引券事務局" in str(msg["From"])
    assert not smtp.to("review@example.jp")

    mails = db.scalars(select(OutboundMail).order_by(OutboundMail.to_addr)).all()
    assert [(m.to_addr, m.state, m.attempts, m.ref) for m in mails] == [
        ("pan@example.jp", "sent", 1, f"notice:{notice.id}"),
        ("seika@example.jp", "sent", 1, f"notice:{notice.id}"),
    ]
    # The outbox runs again (the beat): nothing is sent twice.
    outbox.send_pending(db, FixedClock(notice.created_at), settings_of(notice_config[0]))
    db.commit()
    assert len(smtp.messages) == 2

    listing = secretariat.get("/secretariat/notices")
    assert TITLE in listing.text and "0 / 3 店" in listing.text
    detail = secretariat.get(f"/secretariat/notices/{notice.id}")
    assert "送信済み 2 通" in detail.text and "メールアドレス未登録" in detail.text


def test_the_notice_shows_on_each_portal_until_that_store_reads_it(notice_config, db, shops, smtp):
    """S-4: a notice stays at the top of every active store's portal until that store marks it
    read; reading it is per store, and marking it twice is harmless."""
    secretariat = browser(notice_config, db, "secretariat", "sec1")
    publish(secretariat)
    notice = db.scalar(select(StoreNotice))
    seika = browser(notice_config, db, "store", "seika", store_code="S0001")
    pan = browser(notice_config, db, "store", "pan", store_code="S0002")
    noaddr = browser(notice_config, db, "store", "noaddr", store_code="S0003")

    for client in (seika, pan, noaddr):
        home = client.get("/store/")
        assert 'id="unread-notices"' in home.text
        assert TITLE in home.text and "第3回の配布期間を1月29日" in home.text
        assert "確認しました" in home.text

    after = mark_read(seika, notice.id).follow()
    assert "お知らせを確認済みにしました" in after.text
    assert 'id="unread-notices"' not in after.text
    mark_read(seika, notice.id)  # twice: harmless
    assert count(db, StoreNoticeRead) == 1
    read = db.scalar(select(StoreNoticeRead))
    assert (read.store_id, read.read_by) == (shops["S0001"].id, "staff:seika")

    # The others still see it, unread.
    assert 'id="unread-notices"' in pan.get("/store/").text
    assert "【未確認】" in pan.get("/store/notices").text
    listing = seika.get("/store/notices")
    assert TITLE in listing.text and "確認済み" in listing.text and "【未確認】" not in listing.text

    detail = secretariat.get(f"/secretariat/notices/{notice.id}")
    assert "確認済み 1 / 3 店" in detail.text
    assert "1 / 3 店" in secretariat.get("/secretariat/notices").text

    # A second notice: only it shows now for the store that read the first.
    publish(secretariat, title="年末年始の事務局休業", body="12月29日から1月3日まで休業します。")
    home = seika.get("/store/")
    assert "年末年始の事務局休業" in home.text and "未確認 1 件" in home.text
    assert "未確認 2 件" in pan.get("/store/").text


def test_a_store_reads_and_marks_only_for_itself(notice_config, db, shops, smtp):
    """S-4 and store isolation: the store comes from the session, never from the request; an
    unknown notice is 404 and writes nothing."""
    secretariat = browser(notice_config, db, "secretariat", "sec1")
    publish(secretariat)
    notice = db.scalar(select(StoreNotice))
    seika = browser(notice_config, db, "store", "seika", store_code="S0001")
    pan = browser(notice_config, db, "store", "pan", store_code="S0002")
    pan_id = shops["S0002"].id

    # Naming the other store anywhere changes nothing: the read is seika's own.
    page = seika.get("/store/")
    seika.post(
        f"/store/notices/{notice.id}/read?store_id={pan_id}",
        {"csrf_token": csrf_from(page.text), "store_id": str(pan_id), "store_code": "S0002"},
        status=302,
    )
    reads = db.scalars(select(StoreNoticeRead)).all()
    assert [r.store_id for r in reads] == [shops["S0001"].id]
    assert 'id="unread-notices"' in pan.get("/store/").text
    assert "【未確認】" not in seika.get(f"/store/notices?store_id={pan_id}").text

    mark_read(seika, notice.id + 99, status=404)
    assert count(db, StoreNoticeRead) == 1
    # Not the secretariat's pages, nor the mails.
    seika.get(f"/secretariat/notices/{notice.id}", status=403)
    # Without a CSRF token: refused.
    pan.post(f"/store/notices/{notice.id}/read", status=403)
    assert count(db, StoreNoticeRead) == 1


@pytest.mark.parametrize(
    ("title", "body", "message"),
    [
        ("", BODY, "件名を入力してください"),
        ("   ", BODY, "件名を入力してください"),
        ("あ" * 101, BODY, "件名は100文字以内"),
        (TITLE, "  \n ", "本文を入力してください"),
        (TITLE, "あ" * 4001, "本文は4,000文字以内"),
    ],
)
def test_bad_input_writes_and_sends_nothing(notice_config, db, shops, smtp, title, body, message):
    """S-4: an empty or too long title or body is refused with a Japanese message, at the
    confirmation and at publishing; no notice, no mail."""
    secretariat = browser(notice_config, db, "secretariat", "sec1")
    page = secretariat.get("/secretariat/notices")
    fields = {"title": title, "body": body, "csrf_token": csrf_from(page.text)}
    for action in ("preview", "publish"):
        refused = secretariat.post("/secretariat/notices", {**fields, "action": action}, status=422)
        assert message in refused.text and "お知らせは送っていません" in refused.text
    assert count(db, StoreNotice) == 0
    assert count(db, OutboundMail) == 0
    assert smtp.messages == []


def test_unreachable_smtp_keeps_mail_pending_then_failed_and_retry_sends_it(
    notice_config, db, shops, smtp
):
    """S-4: with the SMTP server down the notice is still published; its mails wait with the
    error, become failed after kariya.smtp.max_attempts, the secretariat sees it and its retry
    sends each mail once the server is back."""
    registry, _app = notice_config
    secretariat = browser(notice_config, db, "secretariat", "sec1")
    smtp.stop()

    publish(secretariat)
    notice = db.scalar(select(StoreNotice))
    mails = db.scalars(select(OutboundMail)).all()
    assert len(mails) == 2
    assert all(m.state == "pending" and m.attempts == 1 and m.last_error for m in mails)
    detail = secretariat.get(f"/secretariat/notices/{notice.id}")
    assert "送信待ち 2 通" in detail.text and "ConnectionRefusedError" in detail.text

    clock = FixedClock(notice.created_at)
    for _ in range(MAX_ATTEMPTS - 1):  # what the beat's "kariya.mail.send" does every minute
        outbox.send_pending(db, clock, settings_of(registry))
        db.commit()
    db.expire_all()
    mails = db.scalars(select(OutboundMail)).all()
    assert all(m.state == "failed" and m.attempts == MAX_ATTEMPTS for m in mails)
    outbox.send_pending(
        db, clock, settings_of(registry)
    )  # a failed mail is not tried again by itself
    db.commit()
    assert all(m.attempts == MAX_ATTEMPTS for m in db.scalars(select(OutboundMail)))

    detail = secretariat.get(f"/secretariat/notices/{notice.id}")
    assert "送信に失敗したメールが 2 通あります" in detail.text
    assert "失敗したメールを再送する" in detail.text
    assert "送信失敗" in detail.text
    listing = secretariat.get("/secretariat/notices")
    assert '<strong class="alert-text">2</strong>' in listing.text

    smtp.start()  # the server is back
    retried = secretariat.post(
        f"/secretariat/notices/{notice.id}/retry", {"csrf_token": csrf_from(detail.text)}
    ).follow()
    assert "2 通を再送します" in retried.text
    assert "送信済み 2 通" in retried.text
    assert len(smtp.to("seika@example.jp")) == 1 and len(smtp.to("pan@example.jp")) == 1
    assert len(smtp.messages) == 2
    db.expire_all()
    assert all(m.state == "sent" for m in db.scalars(select(OutboundMail)))
    # Retrying again has nothing to do.
    again = secretariat.post(
        f"/secretariat/notices/{notice.id}/retry", {"csrf_token": csrf_from(retried.text)}
    ).follow()
    assert "送信に失敗したメールはありません" in again.text
    assert len(smtp.messages) == 2


@pytest.mark.parametrize("role", ["agent", "store", "city"])
def test_other_roles_cannot_use_the_secretariat_notice_pages(notice_config, db, shops, smtp, role):
    """S-4: only the secretariat writes notices; the other roles get 403 and write nothing."""
    secretariat = browser(notice_config, db, "secretariat", "sec1")
    publish(secretariat)
    notice = db.scalar(select(StoreNotice))
    other = browser(
        notice_config, db, role, f"{role}1", store_code="S0001" if role == "store" else None
    )
    token = csrf_from(other.get("/login").text)
    assert "権限" in other.get("/secretariat/notices", status=403).text
    other.get(f"/secretariat/notices/{notice.id}", status=403)
    other.post(
        "/secretariat/notices",
        {"title": "偽のお知らせ", "body": "本文", "action": "publish", "csrf_token": token},
        status=403,
    )
    other.post(f"/secretariat/notices/{notice.id}/retry", {"csrf_token": token}, status=403)
    assert count(db, StoreNotice) == 1
    assert len(smtp.messages) == 2


def test_the_development_mail_sink_keeps_mail_and_lists_it(engine, tmp_path, testapp):
    """S-4 in development: the local SMTP stand-in saves what it receives as .eml files and
    /dev/mail lists them; without the sink the page does not exist, and production refuses it."""
    port = free_port()
    settings = {
        **BASE_SETTINGS,
        "kariya.mail_sink.port": str(port),
        "kariya.mail_sink.dir": str(tmp_path / "mail"),
    }
    controller = mail_sink.start(settings_of(settings))
    assert controller is not None
    try:
        msg = EmailMessage()
        msg["From"] = "刈谷市電子割引券事務局 <noreply@example.jp>"
        msg["To"] = "seika@example.jp"
        msg["Subject"] = "【刈谷市電子割引券】事務局からのお知らせ: テスト"
        msg.set_content("かりや青果店 御中\n本文です。", charset="utf-8")
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
            client.send_message(msg)
    finally:
        controller.stop()
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 1

    saved = celery_app.registry
    app = make_config(settings).make_wsgi_app()
    celery_app.registry = saved
    started = app.registry[MAIL_SINK_KEY]  # the web app starts the sink itself (pserve)
    assert started is not None
    started.stop()
    page = webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost"}).get("/dev/mail")
    assert "事務局からのお知らせ: テスト" in page.text
    assert "seika@example.jp" in page.text and "かりや青果店 御中" in page.text
    testapp.get("/dev/mail", status=404)  # the sink is off there

    production = {"kariya.environment": "production", "kariya.clock": "system"}
    with pytest.raises(ConfigurationError, match="kariya.mail_sink.port"):
        kariya_settings.check({**production, "kariya.mail_sink.port": "8025"})
    with pytest.raises(ConfigurationError) as refused:
        kariya_settings.check({**production, "kariya.mail_sink.port": "0"})
    assert "mail_sink" not in str(refused.value)
