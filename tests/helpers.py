"""Small builders shared by the tests."""

from __future__ import annotations

import datetime as dt
import http.cookiejar
import json
import re
import socketserver
import threading
import urllib.error
import urllib.request
import wsgiref.simple_server

from kariya.campaign import definition
from kariya.clock import FixedClock
from kariya.staff import accounts
from kariya.stores import registration

PASSWORD = "correct-horse-battery"
JST = dt.timezone(dt.timedelta(hours=9))
ROUND1 = dt.datetime(2024, 1, 15, tzinfo=JST)
# The key the test app (tests/conftest.py) and the CLI ini hash withdrawn LINE ids with.
WITHDRAWAL_KEY = "test-withdrawal-key-not-for-production"
HASH_KEY = WITHDRAWAL_KEY.encode()


def campaign_toml(
    total: int = 60_000_000,
    rounds: int = 6,
    planned: list[int] | None = None,
    start: dt.datetime = ROUND1,
    name: str = "テストキャンペーン",
) -> str:
    lines = [
        "[campaign]",
        f'name = "{name}"',
        'timezone = "Asia/Tokyo"',
        f"total_funds = {total}",
        "coupon_face = 500",
        "coupons_per_pack = 4",
        "store_limit_per_round = 2",
        "min_bill = [1000, 2000]",
    ]
    for k in range(rounds):
        starts = start + dt.timedelta(weeks=k)
        lines += [
            "",
            "[[round]]",
            f"starts = {starts.isoformat()}",
            f"ends = {(starts + dt.timedelta(weeks=1)).isoformat()}",
        ]
        if planned is not None:
            lines.append(f"planned = {planned[k]}")
    return "\n".join(lines) + "\n"


def load_campaign(db, **kw):
    spec = definition.parse(campaign_toml(**kw))
    campaign = definition.load(
        db, FixedClock(spec.rounds[0].starts - dt.timedelta(days=1)), spec, "test"
    )
    db.commit()
    return campaign


def make_store(db, code: str = "S0001", name: str = "テスト商店", active: bool = True):
    clock = FixedClock(ROUND1)
    store = registration.create(
        db, clock, code=code, name=name, kana="テストショウテン", category="小売", area="kariya"
    )
    if active:
        registration.activate_all_the_way(db, clock, store, actor="test")
    db.commit()
    return store


def make_user(db, role: str, username: str | None = None, store_code: str | None = None):
    user = accounts.create_user(
        db,
        FixedClock(ROUND1),
        username=username or role,
        password=PASSWORD,
        role=role,
        store_code=store_code,
    )
    db.commit()
    return user


def csrf_from(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login_staff(testapp, username: str, password: str = PASSWORD, status=None):
    form_page = testapp.get("/login")
    return testapp.post(
        "/login",
        {"username": username, "password": password, "csrf_token": csrf_from(form_page.text)},
        status=status,
    )


def login_resident(testapp, line_user_id: str = "U" + "0" * 32, profile: bool = True) -> str:
    """Log a resident in through the LINE simulator; returns the CSRF token for API calls."""
    testapp.post_json("/dev/line-login", {"line_user_id": line_user_id, "display_name": "市民"})
    token = testapp.get("/api/v1/me").json["csrf_token"]
    if profile:
        testapp.put_json(
            "/api/v1/me/profile",
            {"age_band": "70s", "area": "kariya", "agreed_terms": 1},
            headers={"X-CSRF-Token": token},
        )
    return token


def make_person(db, n: int = 0, profile: bool = True):
    """A resident; with a profile, also agreed to the published terms (version 1)."""
    from kariya.documents import consent
    from kariya.residents import profiles

    clock = FixedClock(ROUND1)
    person = profiles.get_or_create(db, clock, f"U{n:032x}", f"市民{n}", hash_key=HASH_KEY)
    if profile:
        consent.save_profile(db, clock, person, "70s", "kariya", agreed_terms=1)
    db.commit()
    return person


def truncate_all(engine) -> None:
    """Empty every table and restart every id sequence (the schema stays).

    Only the tables holding rows are truncated: TRUNCATE rewrites each table's files, a quarter
    of a second for all of them on a slow disk, paid before every test."""
    import sqlalchemy as sa

    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL lock_timeout = '20s'"))  # a leaked transaction fails
        tables = conn.scalars(
            sa.text(
                "SELECT quote_ident(tablename) FROM pg_tables"
                " WHERE schemaname = 'public' AND tablename != 'alembic_version'"
            )
        ).all()
        filled = conn.scalars(
            sa.text(
                " UNION ALL ".join(f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM {t})" for t in tables)
            )
        ).all()
        if filled:
            conn.execute(sa.text(f"TRUNCATE {', '.join(filled)} CASCADE"))
        for sequence in conn.scalars(
            sa.text(
                "SELECT quote_ident(sequencename) FROM pg_sequences"
                " WHERE schemaname = 'public' AND last_value IS NOT NULL"
            )
        ):
            conn.execute(sa.text(f"ALTER SEQUENCE {sequence} RESTART"))


SEEDED_AT = dt.datetime(2024, 1, 1, tzinfo=JST)


def seed_documents(engine) -> None:
    """Version 1 of every document published, as `kariya initdb` leaves a database."""
    from sqlalchemy.orm import Session

    from kariya.documents import seed

    with Session(engine) as db, db.begin():
        seed.ensure(db, FixedClock(SEEDED_AT))


def write_cli_ini(tmp_path, **extra: str) -> str:
    """An ini file for the `kariya` console script against the test database."""
    from tests.conftest import DATABASE_URL

    path = tmp_path / "cli.ini"
    lines = [
        "[app:main]",
        "use = egg:kariya",
        f"sqlalchemy.url = {DATABASE_URL}",
        "kariya.session_secret = test-session-secret",
        f"kariya.privacy.withdrawal_key = {WITHDRAWAL_KEY}",
        "kariya.clock = settable",
        "celery.always_eager = true",
    ] + [f"{key} = {value}" for key, value in extra.items()]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def run_cli(ini: str, *args: str, input: str | None = None):
    import subprocess
    import sys
    from pathlib import Path

    kariya = str(Path(sys.executable).with_name("kariya"))
    return subprocess.run(
        [kariya, "-c", ini, *args], capture_output=True, text=True, timeout=120, input=input
    )


class _QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the stdlib's signature)
        pass


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, wsgiref.simple_server.WSGIServer):
    daemon_threads = True
    request_queue_size = 256  # a storm of simultaneous connections is not refused by the backlog


class LiveServer:
    """A WSGI app served over real HTTP on 127.0.0.1 (a thread per connection), for tests that
    need a real socket: the browser, the LINE round trip, the races. The port is bound at once,
    so settings can name the URL before the app is built; `stop` is the standard library's
    cross-thread shutdown, so no file descriptor is ever closed under the serving thread."""

    def __init__(self):
        self._server = _ThreadingWSGIServer(("127.0.0.1", 0), _QuietHandler)
        self.port = self._server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None

    def start(self, app) -> LiveServer:
        self._server.set_app(app)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(10)
            assert not self._thread.is_alive(), "the test server did not stop"
        self._server.server_close()


class Phone:
    """A resident's phone over real HTTP (a LiveServer): its own cookie jar, logged in through
    the LINE simulator, with the session's CSRF token."""

    def __init__(self, base: str, line_user_id: str):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        self.call("POST", "/dev/line-login", {"line_user_id": line_user_id})
        self.token = self.call("GET", "/api/v1/me")[1]["csrf_token"]

    def call(self, method, path, body=None, headers=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            request.add_header(k, v)
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())


def storm(calls):
    """Run the callables at the same instant (threads behind one barrier); their results."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i):
        barrier.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results
