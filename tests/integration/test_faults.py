"""Fault tests (issue 14; I-9, I-10): what the security review did by hand, in the suite.

Each test runs a burst of residents over real HTTP against the app served by gunicorn (two
worker processes, as in production) and breaks a backing service in the middle of it:

- Redis hangs, then is killed and comes back empty (sessions and Celery's broker live there);
- PostgreSQL crashes and restarts under acquisitions and uses, and restarts again while idle;
- a Celery worker is SIGKILLed in the middle of the materials build (its pool process) and of
  the tick that closes, expires and settles a round (the whole worker).

Afterwards the invariants: the ledger check passes, the round's issued amount is the packs
acquired, there are 4 coupons per acquisition and a ledger entry for each acquisition and use,
nobody acquired twice, no coupon is used twice, and every phone ended with its pack and its use.

The servers are private (tests/integration/private_services.py): the shared PostgreSQL and Redis
of the machine are never stopped. The module is skipped, saying why, where initdb or
redis-server is missing.
"""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import re
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from celery import Celery
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kariya.audit import ledger_check
from kariya.clock import FixedClock, set_clock
from kariya.coupons import ticker
from kariya.migrations import upgrade
from kariya.models import (
    Acquisition,
    Campaign,
    Coupon,
    LedgerEntry,
    Redemption,
    Round,
)
from tests.benchmarks import rush
from tests.helpers import ROUND1, load_campaign, make_person, make_store, seed_documents
from tests.integration import burst, private_services
from tests.integration.private_services import (
    CeleryWorker,
    PrivatePostgres,
    PrivateRedis,
    running,
    write_ini,
)

MISSING = private_services.missing()
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(MISSING is not None, reason=f"fault tests need private servers: {MISSING}"),
]

TEMPLATE = "faults_template"
PACK = 2_000
NOW = ROUND1 + dt.timedelta(hours=10)
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
_numbers = itertools.count(1)


# --- the private servers ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres():
    """One private cluster for the module, with a migrated template database."""
    server = PrivatePostgres()
    try:
        server.start()
        server.execute(f"CREATE DATABASE {TEMPLATE}")
        engine = sa.create_engine(server.url(TEMPLATE))
        upgrade(engine)
        seed_documents(engine)
        engine.dispose()
        yield server
    finally:
        server.destroy()


@pytest.fixture
def private_db(postgres):
    """A fresh database (a copy of the template) in the private cluster: (url, session)."""
    name = f"faults_{next(_numbers)}"
    postgres.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    engine = sa.create_engine(postgres.url(name), pool_pre_ping=True)
    session = Session(engine, expire_on_commit=False)
    yield postgres.url(name), session
    session.close()
    engine.dispose()


@pytest.fixture
def redis_server():
    server = PrivateRedis()
    server.start()
    yield server
    server.destroy()


@pytest.fixture
def workdir(tmp_path):
    return Path(tmp_path)


def serve(ini: Path, workdir: Path):
    """The app under gunicorn: 2 gthread workers of 4 threads, as in production."""
    return rush.gunicorn(ini, 2, "gthread", 4, workdir, time.monotonic() + 90)


# --- the data and the invariants --------------------------------------------------------------


def seed(db: Session, residents: int) -> tuple[int, str, list[str]]:
    """A campaign whose round 1 is open (the clock frozen 10 h into it), one active store and
    `residents` residents with a profile. Returns the campaign id, the store's QR token and the
    residents' LINE ids."""
    campaign = load_campaign(db, total=60_000_000, rounds=6)
    store = make_store(db, "S0001", "かりや青果店")
    people = [make_person(db, n).line_user_id for n in range(residents)]
    set_clock(db, NOW, frozen=True)
    ticker.run_due(db, FixedClock(NOW), actor="test")
    db.commit()
    return campaign.id, store.qr_token, people


def invariants(db: Session, campaign_id: int) -> dict[str, int]:
    """The figures that must agree after any fault; asserts the ledger check and the rest."""
    db.expire_all()
    db.rollback()

    def count(model, *where) -> int:
        return db.scalar(select(func.count()).select_from(model).where(*where))

    acquisitions = count(Acquisition)
    issued = db.scalar(select(func.sum(Round.issued)).where(Round.campaign_id == campaign_id))
    doubled = db.execute(
        select(Acquisition.person_id)
        .group_by(Acquisition.round_id, Acquisition.person_id)
        .having(func.count() > 1)
    ).all()
    not_four = db.execute(
        select(Coupon.acquisition_id).group_by(Coupon.acquisition_id).having(func.count() != 4)
    ).all()
    unposted = db.scalar(
        select(func.count())
        .select_from(Acquisition)
        .outerjoin(
            LedgerEntry,
            LedgerEntry.ref == func.concat("acquire:", sa.cast(Acquisition.id, sa.Text)),
        )
        .where(LedgerEntry.id.is_(None))
    )
    uses = count(Redemption)
    use_entries = count(LedgerEntry, LedgerEntry.ref.like("redemption:%"))
    used_coupons = count(Coupon, Coupon.redemption_id.is_not(None))
    used_state = count(Coupon, Coupon.state == "used")
    report = ledger_check.check(db, db.get(Campaign, campaign_id))
    figures = {
        "acquisitions": acquisitions,
        "packs_issued": (issued or 0) // PACK,
        "coupons": count(Coupon),
        "uses": uses,
        "used_coupons": used_coupons,
    }
    db.rollback()
    assert report.ok, report.text()
    assert figures["packs_issued"] == acquisitions, figures
    assert figures["coupons"] == 4 * acquisitions, figures
    assert doubled == [] and not_four == [], (doubled, not_four)
    assert unposted == 0, "an acquisition without its ledger entry"
    assert use_entries == uses, "a use without its ledger entry"
    assert used_state == used_coupons, "a coupon used without its use, or the reverse"
    return figures


def every_phone_finished(phones: list[burst.Phone]) -> None:
    """Each phone got its pack (201) and its use (201), whatever happened on the way."""
    unfinished = {
        p.number: {step: (a.status, a.code) for step, a in p.results.items()}
        for p in phones
        if {s: a.status for s, a in p.results.items()} != {"acquire": 201, "use": 201}
    }
    assert unfinished == {}


def matches_database(db: Session, phones: list[burst.Phone]) -> None:
    """What the phones were told is what the database holds: the coupons of each phone's 201
    are its coupons (none lost, none doubled), its use's coupons are used by that use."""
    db.rollback()
    for phone in phones:
        told = sorted(c["id"] for c in phone.results["acquire"].body["coupons"])
        person = db.scalar(select(Acquisition.person_id).join(Coupon).where(Coupon.id == told[0]))
        held = sorted(db.scalars(select(Coupon.id).where(Coupon.person_id == person)))
        assert told == held, (phone.number, told, held)
        use = phone.results["use"].body
        used = sorted(db.scalars(select(Coupon.id).where(Coupon.redemption_id == use["id"])))
        assert used == sorted(use["coupons"]) and len(used) == 1 + phone.number % 2
    db.rollback()


def unavailable_answers_are_japanese(answers: list[burst.Answer]) -> collections.Counter:
    """Every answer that was not a success: a 503 UNAVAILABLE in Japanese with Retry-After, or
    a 401 after the sessions were lost; never a 500, never an unreadable answer."""
    seen = collections.Counter()
    for answer in answers:
        if answer.status is not None and answer.status < 400:
            continue
        seen[(answer.status, answer.code)] += 1
        if answer.status == 401:
            assert answer.code == "UNAUTHENTICATED", answer
            continue
        assert answer.status == 503, answer
        assert answer.code == burst.UNAVAILABLE and JAPANESE.search(answer.body["message"]), answer
        assert answer.retry_after == "30", answer
    return seen


def wait_for(predicate, seconds: float, what: str) -> float:
    """Poll `predicate` until true; returns the seconds it took."""
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < seconds, f"{what}: not within {seconds} s"
        time.sleep(0.05)
    return time.monotonic() - started


def after_fault(seconds_down: float, do_fault, log: burst.Log, step: str, at_least: int):
    """A thread that waits for `at_least` answers 201 to `step`, then runs `do_fault`; its
    `times` get the moments the fault began and ended."""
    times: dict[str, float] = {}

    def run():
        deadline = time.monotonic() + 60
        while log.count(step, 201) < at_least and time.monotonic() < deadline:
            time.sleep(0.01)
        times["down"] = time.monotonic()
        do_fault(seconds_down)
        times["up"] = time.monotonic()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, times


def workers_alive(server) -> None:
    """The app recovered by itself: gunicorn's workers are the ones it started with."""
    masters = {private_services.parent(pid) for pid in server.worker_pids}
    assert len(masters) == 1, masters
    assert sorted(private_services.children(masters.pop())) == server.worker_pids


# --- (b) PostgreSQL restarted mid-burst --------------------------------------------------------


@pytest.mark.parametrize("pre_ping", ["true", "false"])
def test_postgresql_crashing_mid_burst_loses_and_doubles_nothing(
    postgres, private_db, redis_server, workdir, pre_ping
):
    """I-9: PostgreSQL crashes (immediate stop, WAL recovery on start) while 40 residents
    acquire and use coupons, and restarts 1 s later; then it restarts again while the app is
    idle. With the pool's pre-ping on (the default) or off (the rush's setting), the residents
    see a Japanese 503 only while it is down, their apps' retries with the same
    Idempotency-Key get one pack and one use each, and nothing is lost, doubled or half
    written. The web processes reconnect by themselves (no worker restarted)."""
    url, db = private_db
    campaign_id, token, people = seed(db, 40)
    ini = write_ini(
        workdir / "app.ini",
        url,
        redis_server.url(0),
        "memory://",
        celery__always_eager="true",
        sqlalchemy__pool_pre_ping=pre_ping,
    )

    def crash(seconds: float) -> None:
        postgres.stop("immediate")
        time.sleep(seconds)
        postgres.start()

    started = time.monotonic()
    with serve(ini, workdir) as server:
        log = burst.Log()
        phones = [burst.Phone(server.base_url, n, line, log) for n, line in enumerate(people)]
        fault, times = after_fault(1.0, crash, log, "acquire", at_least=8)
        burst.run(phones, token, seconds=60)
        fault.join(60)
        seen = unavailable_answers_are_japanese(log.answers)
        every_phone_finished(phones)
        assert seen[(503, burst.UNAVAILABLE)] > 0, "the crash did not meet the burst"
        assert log.of(after=times["up"]), "the burst was over before PostgreSQL came back"
        late = [a for a in log.of(status=503, after=times["up"] + 1.0)]
        assert late == [], late
        first_success = min(a.at for a in log.of(after=times["up"]) if a.status in (200, 201))
        figures = invariants(db, campaign_id)
        assert figures["acquisitions"] == figures["uses"] == len(people)
        matches_database(db, phones)

        # Restarted while nobody is using the app: every pooled connection is dead; the next
        # requests are answered as if nothing happened.
        postgres.stop("fast")
        postgres.start()
        idle = [p.call("coupons", "GET", "/api/v1/coupons") for p in phones[:20]]
        assert [a.status for a in idle] == [200] * 20, [(a.status, a.code) for a in idle]
        workers_alive(server)
    print(
        f"\n[faults] postgresql crash (pre_ping={pre_ping}): {time.monotonic() - started:.1f} s;"
        f" down {times['up'] - times['down']:.2f} s; first success"
        f" {first_success - times['up']:.2f} s after it was back; answers"
        f" {dict(collections.Counter(a.status for a in log.answers))}"
    )
