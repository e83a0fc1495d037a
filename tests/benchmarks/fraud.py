"""Benchmark: the fraud scan of a full week (issue 15) on the generated normal campaign.

    .venv/bin/python -m tests.benchmarks.fraud [--runs 3]      (make bench-fraud)

Builds the campaign of tests/fraudgen.py (600 stores, 20,000 residents, the scan's week and
two weeks before it) in a scratch database, then times, `--runs` times each and in the same
run, a baseline (a plain count and sum over the same week's uses, the least any scan must
read) and the scan itself (every rule, the cases applied, rolled back). Prints JSON: each
rule's seconds, the scan's median against the baseline's, and the cases opened (none on a
normal campaign). Exits 1 if the scan opened a case or took longer than --limit seconds.
Database: KARIYA_BENCH_DATABASE_URL (default a local `kariya_bench_fraud`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kariya.clock import FixedClock
from kariya.fraud import scan
from kariya.settings import parse
from tests import fraudgen

DATABASE_URL = os.environ.get(
    "KARIYA_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/kariya_bench_fraud"
)
BASELINE = (
    "SELECT count(*), sum(r.amount), count(DISTINCT r.store_id), count(DISTINCT r.person_id)"
    " FROM redemption r JOIN round rd ON rd.id = r.round_id"
    " WHERE rd.campaign_id = :c AND r.used_at >= :since AND r.used_at < :now"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--limit", type=float, default=60.0, help="seconds a scan may take")
    args = parser.parse_args(argv)
    engine, generated = fraudgen.database(DATABASE_URL, reuse=False)
    settings = parse({"kariya.session_secret": "bench"})
    clock = FixedClock(generated.now)
    baseline, scans, per_rule, opened = [], [], {}, 0
    with engine.connect() as conn:
        week = conn.execute(
            sa.text(BASELINE),
            {"c": generated.campaign_id, "since": _since(generated, settings), "now": clock.now()},
        ).one()
    for _ in range(args.runs):
        with Session(engine) as db:
            db.execute(sa.text("SET jit = off"))  # as the scan does
            started = time.perf_counter()
            db.execute(
                sa.text(BASELINE),
                {
                    "c": generated.campaign_id,
                    "since": _since(generated, settings),
                    "now": clock.now(),
                },
            ).one()
            baseline.append(time.perf_counter() - started)
            db.rollback()
        with Session(engine) as db:
            started = time.perf_counter()
            result = scan.run(db, clock, settings)
            scans.append(time.perf_counter() - started)
            opened = max(opened, len(result.opened))
            for code, seconds in result.seconds.items():
                per_rule.setdefault(code, []).append(seconds)
            db.rollback()
    report = {
        "stores": generated.stores,
        "residents": generated.residents,
        "uses": generated.uses,
        "uses_in_week": int(week[0]),
        "generate_seconds": generated.seconds,
        "runs": args.runs,
        "baseline_seconds": round(statistics.median(baseline), 3),
        "scan_seconds": round(statistics.median(scans), 3),
        "ratio": round(statistics.median(scans) / max(statistics.median(baseline), 1e-6), 1),
        "rules": {code: round(statistics.median(v), 3) for code, v in per_rule.items()},
        "cases_opened": opened,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(report, ensure_ascii=False))
    engine.dispose()
    return 0 if opened == 0 and report["scan_seconds"] <= args.limit else 1


def _since(generated, settings):
    return generated.now - dt.timedelta(days=settings.fraud.window_days)


if __name__ == "__main__":
    sys.exit(main())
