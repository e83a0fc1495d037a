"""Issue #6 'faults': a worker killed in the middle of building a payout batch leaves no half
batch. The build runs as one transaction, so a process killed between writing the batch and its
items commits nothing; the next build then runs as if nothing happened."""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import func, select

from kariya.clock import FixedClock, set_clock
from kariya.coupons import acquisition, ticker
from kariya.ledger import postings
from kariya.models import PayoutBatch, PayoutItem, PayoutLine
from kariya.redemptions import uses
from tests.helpers import ROUND1, load_campaign, make_person, make_store, write_cli_ini

SLOW = """
CREATE OR REPLACE FUNCTION kariya_test_slow_item() RETURNS trigger AS $$
BEGIN PERFORM pg_sleep(4); RETURN NEW; END $$ LANGUAGE plpgsql;
CREATE TRIGGER kariya_test_slow_item BEFORE INSERT ON payout_item
FOR EACH ROW EXECUTE FUNCTION kariya_test_slow_item();
"""
UNDO = """
DROP TRIGGER IF EXISTS kariya_test_slow_item ON payout_item;
DROP FUNCTION IF EXISTS kariya_test_slow_item();
"""


def _counts(db) -> tuple[int, int, int]:
    db.expire_all()
    counts = tuple(
        db.scalar(select(func.count()).select_from(model))
        for model in (PayoutBatch, PayoutLine, PayoutItem)
    )
    db.rollback()  # hold no lock on the tables
    return counts


def _sleeping(engine) -> bool:
    with engine.connect() as conn:
        return bool(
            conn.scalar(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' "
                    "AND query LIKE '%payout_item%'"
                )
            )
        )


def test_a_build_killed_halfway_writes_nothing(engine, db, tmp_path):
    load_campaign(db, total=60_000, rounds=6)
    store = make_store(db, "S0001", "かりや青果店")
    store.bank_code, store.branch_code, store.account_type = "0001", "004", "普通"
    store.account_number, store.account_holder_kana = "0000001", "ｶﾘﾔｾｲｶﾃﾝ"
    person = make_person(db)
    clock = FixedClock(ROUND1 + dt.timedelta(hours=10))
    ticker.run_due(db, clock, actor="test")
    acquisition.acquire(db, clock, person.id)
    uses.redeem(db, clock, person.id, store.qr_token, 2, 3000)
    set_clock(db, dt.datetime.fromisoformat("2024-01-16T10:00:00+09:00"), frozen=True)
    db.commit()

    ini = write_cli_ini(tmp_path)
    kariya = str(Path(sys.executable).with_name("kariya"))
    with engine.begin() as conn:
        conn.execute(sa.text(SLOW))
    try:
        worker = subprocess.Popen(
            [kariya, "-c", ini, "payouts", "build"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while not _sleeping(engine):  # the batch and its line are written, the items not yet
            assert worker.poll() is None, worker.communicate()
            assert time.monotonic() < deadline, "the build never reached its items"
            time.sleep(0.1)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        # The server finishes the sleeping statement, finds the client gone and rolls back.
        deadline = time.monotonic() + 30
        while _sleeping(engine):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        time.sleep(0.5)
        assert _counts(db) == (0, 0, 0)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(UNDO))

    # Nothing blocks the next build: it pays the use once.
    done = subprocess.run(
        [kariya, "-c", ini, "payouts", "build"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert _counts(db) == (1, 1, 1)
    assert postings.balance(db, postings.USED) == 1_000
