"""Benchmark: the bulk materials build for 600 stores (S-2, P-7) must finish in under 2 minutes.

    .venv/bin/python -m tests.benchmarks.materials [--stores 600] [--limit 120]

Creates (or empties) a scratch database, migrates it, loads a campaign and N active stores, then
runs the Celery task `kariya.materials.build_all` (eagerly, in this process: the same code a
worker runs) and times it. Prints the figures as JSON; exits 1 over the limit. Not part of the
default test run. Database: KARIYA_BENCH_DATABASE_URL (default a local `kariya_bench_materials`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import zipfile

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from kariya import make_config
from kariya.campaign import definition
from kariya.clock import FixedClock
from kariya.db import unit_of_work
from kariya.materials import jobs
from kariya.migrations import upgrade
from kariya.stores import registration
from tests.helpers import ROUND1, campaign_toml

DATABASE_URL = os.environ.get(
    "KARIYA_BENCH_DATABASE_URL",
    "postgresql+psycopg://postgres@127.0.0.1:5432/kariya_bench_materials",
)


def fresh_database(url: str) -> None:
    target = make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}
        ):
            conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    upgrade(engine)
    engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=600)
    parser.add_argument("--limit", type=float, default=120.0, help="seconds allowed")
    parser.add_argument("--keep", metavar="FILE", help="write the ZIP to FILE")
    args = parser.parse_args(argv)

    fresh_database(DATABASE_URL)
    registry = make_config(
        {
            "sqlalchemy.url": DATABASE_URL,
            "kariya.session_secret": "benchmark-session-secret",
            "kariya.public_url": "https://coupon.example.jp",
            "celery.always_eager": "true",
        }
    ).registry
    from tasks import celery_app

    clock = FixedClock(ROUND1)
    started = time.perf_counter()
    with unit_of_work(registry) as db:
        definition.load(db, clock, definition.parse(campaign_toml()), "benchmark")
        for n in range(1, args.stores + 1):
            store = registration.create(
                db,
                clock,
                code=f"B{n:05d}",
                name=f"刈谷ベンチマーク商店 第{n}号店",
                kana="カリヤベンチマークショウテン",
                category="小売",
                area="kariya",
                address=f"刈谷市東陽町{n}丁目",
            )
            registration.activate_all_the_way(db, clock, store, actor="benchmark")
    setup_seconds = time.perf_counter() - started

    with unit_of_work(registry) as db:
        job_id = jobs.start_job(db, registry.settings, actor="benchmark").id
    started = time.perf_counter()
    celery_app.tasks["kariya.materials.build_all"].apply(args=[job_id]).get()
    build_seconds = time.perf_counter() - started

    with unit_of_work(registry) as db:
        job, chunks = jobs.zip_chunks(db, job_id)
        with tempfile.TemporaryFile() as data:  # the download, as the secretariat gets it
            for chunk in chunks:
                data.write(chunk)
            if args.keep:
                data.seek(0)
                with open(args.keep, "wb") as kept:
                    shutil.copyfileobj(data, kept)
            with zipfile.ZipFile(data) as archive:
                folders = {name.split("/")[0] for name in archive.namelist() if "/" in name}
    result = {
        "stores": args.stores,
        "sets_in_zip": len(folders),
        "state": job.state,
        "setup_seconds": round(setup_seconds, 1),
        "build_seconds": round(build_seconds, 1),
        "per_store_ms": round(build_seconds * 1000 / args.stores, 1),
        "zip_megabytes": round(job.size / 1_048_576, 1),
        "limit_seconds": args.limit,
        "cpus": os.cpu_count(),
    }
    if args.keep:
        result["zip"] = args.keep
    print(json.dumps(result, ensure_ascii=False, indent=2))
    ok = job.state == "done" and len(folders) == args.stores and build_seconds < args.limit
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
