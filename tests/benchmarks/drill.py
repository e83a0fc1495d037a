"""`make drill`: the backup and restore drill on a seeded database (README, "Backup and restore
drill"). Not part of `make test` (tests/integration/test_drill.py runs it small).

    .venv/bin/python -m tests.benchmarks.drill [--residents 5000] [--stores 60]

1. Drops and recreates the PostgreSQL database `kariya_bench_drill` (the name must say bench),
   migrates it.
2. Seeds a campaign in its second week: every resident acquired round 1's pack, half of them
   used coupons at the stores, round 1 closed (its unused coupons expired) and settled into
   round 2, half acquired round 2's pack, and the payout batch of 1-15 January was built,
   submitted and approved (the ledger carries used -> payable).
3. Runs `kariya.audit.drill.run`: pg_dump, pg_restore into a new database, the comparison.

Prints the drill's report and, as the last line, one JSON object with the figures. Exits 1 when
the copy differs or the ledger check fails.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kariya.audit import drill
from kariya.clock import FixedClock, set_clock
from kariya.coupons import acquisition, ticker
from kariya.models import Person, Store
from kariya.payouts import batches
from kariya.redemptions import uses
from tests.benchmarks.rush import fresh_database, insert_persons
from tests.helpers import ROUND1, load_campaign, make_store

DATABASE_URL = os.environ.get(
    "KARIYA_DRILL_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/kariya_bench_drill"
)
IN_ROUND_1 = ROUND1 + dt.timedelta(hours=10)
IN_ROUND_2 = ROUND1 + dt.timedelta(days=7, hours=10)
COMMIT_EVERY = 500


def seed(engine: sa.Engine, residents: int, stores: int) -> dict[str, int]:
    """The campaign described in the module's docstring; returns what it made."""
    db = Session(engine, expire_on_commit=False)
    try:
        # Every resident can have each round's pack (a round's quota is a sixth of T).
        load_campaign(db, total=max(60_000_000, 6 * 2_000 * residents), rounds=6)
        shops = []
        for n in range(1, stores + 1):
            store = make_store(db, f"D{n:04d}", f"訓練商店{n}")
            store.bank_code, store.branch_code, store.account_type = "0001", "004", "普通"
            store.account_number, store.account_holder_kana = f"{n:07d}", "ｸﾝﾚﾝｼﾖｳﾃﾝ"
            shops.append(store.qr_token)
        db.commit()
        ids = insert_persons(engine, residents, IN_ROUND_1)
        made = {"acquisitions": 0, "uses": 0}

        def acquire_all(clock, people) -> None:
            for i, person_id in enumerate(people, 1):
                acquisition.acquire(db, clock, person_id)
                made["acquisitions"] += 1
                if i % COMMIT_EVERY == 0:
                    db.commit()
            db.commit()

        clock = FixedClock(IN_ROUND_1)
        ticker.run_due(db, clock, actor="drill")
        acquire_all(clock, ids)
        for i, person_id in enumerate(ids[::2], 1):
            coupons = 1 + i % 2
            uses.redeem(db, clock, person_id, shops[i % len(shops)], coupons, 1_000 * coupons)
            made["uses"] += 1
            if i % COMMIT_EVERY == 0:
                db.commit()
        db.commit()

        clock = FixedClock(IN_ROUND_2)
        ticker.run_due(db, clock, actor="drill")  # round 1 closes and settles, round 2 opens
        db.commit()
        acquire_all(clock, ids[1::2])
        batch = batches.build(db, clock, {}, actor="staff:secretariat")
        batches.submit(db, clock, batch, actor="staff:secretariat")
        batches.approve(db, clock, batch, actor="staff:city")
        set_clock(db, IN_ROUND_2, frozen=True)
        db.commit()
        made["batch_lines"] = len(batch.lines)
        made["persons"] = db.scalar(sa.select(sa.func.count()).select_from(Person))
        made["stores"] = db.scalar(sa.select(sa.func.count()).select_from(Store))
        return made
    finally:
        db.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--residents", type=int, default=5_000)
    parser.add_argument("--stores", type=int, default=60)
    args = parser.parse_args(argv)
    started = time.monotonic()
    engine = fresh_database(DATABASE_URL)
    try:
        made = seed(engine, args.residents, args.stores)
    finally:
        engine.dispose()
    seeded = time.monotonic() - started
    print(f"seeded in {seeded:.1f} s: {made}")
    report = drill.run(DATABASE_URL)
    print(report.text())
    rows = sum(n for n, _ in report.figures.tables.values())
    summary = {
        "residents": args.residents,
        **made,
        "rows": rows,
        "dump_bytes": report.dump_bytes,
        **{f"{step}_s": round(sec, 2) for step, sec in report.seconds.items()},
        "identical": report.identical,
        "ledger_ok": report.figures.ledger_ok,
    }
    print(json.dumps(summary))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
