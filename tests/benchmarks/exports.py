"""Benchmark: the city's exports stream (C-2): 100,000 uses with flat memory in a few seconds.

    .venv/bin/python -m tests.benchmarks.exports [--uses 100000] [--limit 20]

Creates (or empties) a scratch database, loads a campaign, 20,000 residents, 600 stores and
first 10,000 then N uses (inserted by SQL), and exports the uses as CSV (UTF-8 with BOM and
cp932) and as .xlsx, the way `kariya export` does, into a temporary file: once timed, once
under tracemalloc for the peak of Python's memory. Memory is flat when the peak at N uses is
about the peak at 10,000. Then the page's path: the same export as a job, its file in chunks in
the database. Prints JSON; exits 1 over the time limit or when memory grows with the rows.
Database: KARIYA_BENCH_DATABASE_URL (default a local `kariya_bench_exports`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
import tracemalloc

import sqlalchemy as sa

from kariya import make_config
from kariya.campaign import definition
from kariya.clock import FixedClock
from kariya.db import unit_of_work
from kariya.reports import exports, jobs
from tests.benchmarks.materials import fresh_database
from tests.helpers import ROUND1, campaign_toml

DATABASE_URL = os.environ.get(
    "KARIYA_BENCH_DATABASE_URL",
    "postgresql+psycopg://postgres@127.0.0.1:5432/kariya_bench_exports",
)
RUNS = (("csv", "utf-8-sig"), ("csv", "cp932"), ("xlsx", "utf-8-sig"))


def load(engine, residents: int, stores: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO person (line_user_id, ref, display_name, age_band, area,"
                " terms_version, profile_at, created_at)"
                " SELECT 'U' || md5(i::text), lpad(i::text, 12, '0'), '市民' || i,"
                " (ARRAY['20s','30s','40s','50s','60s','70s'])[1 + i % 6],"
                " (ARRAY['kariya','ogakie','fujimatsu'])[1 + i % 3], '2024-01',"
                " now(), now() FROM generate_series(1, CAST(:n AS integer)) AS i"
            ),
            {"n": residents},
        )
        conn.execute(
            sa.text(
                "INSERT INTO store (code, name, kana, category, area, address, phone, hours,"
                " email, bank_code, branch_code, account_type, account_number,"
                " account_holder_kana, search_text, state, created_at, updated_at)"
                " SELECT 'B' || lpad(i::text, 5, '0'),"
                " CASE WHEN i % 50 = 0 THEN '髙橋商店 第' || i || '号店'"
                " ELSE '刈谷ベンチマーク商店 第' || i || '号店' END,"
                " 'カリヤ', '小売', 'kariya', '刈谷市東陽町' || i, '0566-00-0000', '',"
                " '', '', '', '', '', '', '', 'active', now(), now()"
                " FROM generate_series(1, CAST(:n AS integer)) AS i"
            ),
            {"n": stores},
        )


def add_uses(engine, first: int, last: int, residents: int, stores: int) -> None:
    with engine.begin() as conn:
        round_id = conn.scalar(sa.text("SELECT min(id) FROM round"))
        conn.execute(
            sa.text(
                "INSERT INTO redemption (person_id, store_id, round_id, coupons, amount,"
                " bill_amount, confirmation_code, state, used_at)"
                " SELECT 1 + i % :residents, 1 + i % :stores, :round, 1 + i % 2,"
                " 500 * (1 + i % 2), 1000 + i % 5000, upper(substr(md5(i::text), 1, 6)),"
                " 'confirmed', CAST(:start AS timestamptz) + make_interval(secs => i)"
                " FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS i"
            ),
            {
                "residents": residents,
                "stores": stores,
                "round": round_id,
                "start": ROUND1,
                "first": first,
                "last": last,
            },
        )
        conn.execute(sa.text("ANALYZE"))


def export_once(registry, fmt: str, encoding: str, *, traced: bool) -> dict:
    with tempfile.TemporaryFile() as out, unit_of_work(registry) as db:
        if traced:
            tracemalloc.start()
        started = time.perf_counter()
        result = exports.write(db, "uses", out, fmt, encoding)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] if traced else None
        if traced:
            tracemalloc.stop()
        size = out.tell()
    figures = {"rows": result.rows, "seconds": round(seconds, 2), "megabytes": round(size / 1e6, 1)}
    if traced:
        figures["python_peak_mib"] = round(peak / 1_048_576, 1)
    else:
        figures["rows_per_second"] = round(result.rows / seconds)
    if result.problems:
        figures["reported_cells"] = len(result.problems)
    return figures


def measure(registry) -> dict:
    found = {}
    for fmt, encoding in RUNS:
        timed = export_once(registry, fmt, encoding, traced=False)
        traced = export_once(registry, fmt, encoding, traced=True)
        found[f"{fmt}:{encoding}" if fmt == "csv" else fmt] = {
            **timed,
            "python_peak_mib": traced["python_peak_mib"],
            **({"reported_cells": timed["reported_cells"]} if "reported_cells" in timed else {}),
        }
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uses", type=int, default=100_000)
    parser.add_argument("--residents", type=int, default=20_065)
    parser.add_argument("--stores", type=int, default=600)
    parser.add_argument("--limit", type=float, default=20.0, help="seconds allowed per export")
    args = parser.parse_args(argv)

    fresh_database(DATABASE_URL)
    registry = make_config(
        {
            "sqlalchemy.url": DATABASE_URL,
            "kariya.session_secret": "benchmark-session-secret",
            "celery.always_eager": "true",
        }
    ).registry
    engine = registry["db.engine"]
    with unit_of_work(registry) as db:
        definition.load(db, FixedClock(ROUND1), definition.parse(campaign_toml()), "benchmark")
    load(engine, args.residents, args.stores)
    small = min(10_000, args.uses)
    add_uses(engine, 1, small, args.residents, args.stores)
    at_small = measure(registry)
    add_uses(engine, small + 1, args.uses, args.residents, args.stores)
    at_full = measure(registry)

    # The page's path: a job whose file goes into the database in chunks as it is written.
    with unit_of_work(registry) as db:
        job_id = jobs.start(
            db,
            FixedClock(ROUND1),
            kind="uses",
            fmt="xlsx",
            encoding="utf-8-sig",
            actor="benchmark",
            role="batch",
        ).id
    started = time.perf_counter()
    with unit_of_work(registry) as db:
        job = jobs.run_job(db, FixedClock(ROUND1), registry.settings, job_id)
    job_seconds = time.perf_counter() - started

    result = {
        "uses": args.uses,
        f"at_{small}": at_small,
        f"at_{args.uses}": at_full,
        "job_xlsx": {
            "state": job.state,
            "rows": job.done,
            "seconds": round(job_seconds, 2),
            "megabytes": round((job.size or 0) / 1e6, 1),
        },
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }
    print(json.dumps(result, ensure_ascii=False, indent=2))
    flat = all(
        at_full[k]["python_peak_mib"] <= 2 * at_small[k]["python_peak_mib"] + 8 for k in at_full
    )
    fast = all(v["seconds"] <= args.limit for v in at_full.values())
    return 0 if flat and fast and job.state == "done" and job.done == args.uses else 1


if __name__ == "__main__":
    sys.exit(main())
