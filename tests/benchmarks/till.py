"""Benchmark: the cost of a use at the till (issue 15, "At the till"), per request, in-process.

    .venv/bin/python -m tests.benchmarks.till [--persons 150] [--repeat 3]

Creates (or empties) a scratch database, migrates it, loads a campaign and stores, lets N
residents acquire their coupons, then times `POST /api/v1/redemptions` through the whole WSGI
app (session, CSRF, Idempotency-Key, the view, the rules, COMMIT; no HTTP server, so no queueing)
against PostgreSQL and Redis: every resident uses one coupon at a time at stores without a PIN
and, where the code knows PINs, at stores with one. Also counts the SQL statements of one
use, and the CPU time this process spent on it (the app's own work: less
sensitive than wall time to a busy machine). Prints one JSON line. Not part of the test run.

Database: KARIYA_BENCH_DATABASE_URL (default a local `kariya_bench_till`); Redis:
KARIYA_BENCH_REDIS_URL (default redis://127.0.0.1:6379/13).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import redis
import sqlalchemy as sa
import webtest
from sqlalchemy import event

from kariya import make_config
from kariya.campaign import definition
from kariya.clock import FixedClock
from kariya.db import unit_of_work
from kariya.models import Store
from kariya.stores import registration
from tests.benchmarks.materials import fresh_database
from tests.helpers import ROUND1, campaign_toml

DATABASE_URL = os.environ.get(
    "KARIYA_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/kariya_bench_till"
)
REDIS_URL = os.environ.get("KARIYA_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
PIN = "2580"


def _stores(registry, count: int, with_pin: bool) -> list[str]:
    """Active stores; with `with_pin` each opts into the staff PIN (where the code has PINs)."""
    try:
        from kariya.redemptions import till
    except ImportError:  # the code before issue 15
        till = None
    if with_pin and till is None:
        return []
    tokens = []
    clock = FixedClock(ROUND1)
    with unit_of_work(registry) as db:
        first = db.scalar(sa.select(sa.func.count()).select_from(Store)) + 1
        for n in range(first, first + count):
            store = registration.create(
                db, clock, code=f"B{n:04d}", name=f"店舗{n}", kana="テン", category="小売"
            )
            registration.activate_all_the_way(db, clock, store, actor="bench")
            if with_pin:
                till.set_pin(
                    db, clock, till.of(registry["kariya.settings"]), store, PIN, PIN, actor="bench"
                )
            tokens.append(store.qr_token)
    return tokens


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def _figures(seconds: list[float]) -> dict:
    ms = [s * 1000 for s in seconds]
    return {
        "uses": len(ms),
        "mean_ms": round(statistics.fmean(ms), 2),
        "p50_ms": round(_percentile(ms, 50), 2),
        "p95_ms": round(_percentile(ms, 95), 2),
    }


def _run(settings: dict, persons: int) -> dict:
    """One run on a fresh database: the residents' uses, timed."""
    fresh_database(DATABASE_URL)
    redis.Redis.from_url(REDIS_URL).flushdb()
    config = make_config(dict(settings))
    registry = config.registry
    app = config.make_wsgi_app()
    with unit_of_work(registry) as db:
        definition.load(db, FixedClock(ROUND1), definition.parse(campaign_toml()), "bench")
    plain = _stores(registry, 4, with_pin=False)
    pinned = _stores(registry, 4, with_pin=True)
    web = webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost"})
    web.put_json("/dev/clock", {"now": ROUND1.replace(hour=10).isoformat(), "frozen": True})

    phones = []
    for n in range(persons):
        phone = webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost"})
        phone.post_json("/dev/line-login", {"line_user_id": f"U{n:032x}", "display_name": "市"})
        token = phone.get("/api/v1/me").json["csrf_token"]
        phone.put_json(
            "/api/v1/me/profile",
            {"age_band": "70s", "area": "kariya", "agreed_terms": 1},
            headers={"X-CSRF-Token": token},
        )
        phone.post("/api/v1/acquisitions", headers={"X-CSRF-Token": token}, status=201)
        phones.append((phone, token))

    statements = []
    engine = registry["db.engine"]

    def count(*_args, **_kw):
        statements.append(1)

    def use(phone, token, store_token, pin=None) -> tuple[float, int, float]:
        body = {"store_token": store_token, "coupons": 1, "bill_amount": 1200}
        if pin:
            body["pin"] = pin
        statements.clear()
        started, cpu = time.perf_counter(), time.process_time()
        phone.post_json(
            "/api/v1/redemptions",
            body,
            headers={"X-CSRF-Token": token, "Idempotency-Key": f"k{time.monotonic_ns()}"},
            status=201,
        )
        return time.perf_counter() - started, len(statements), time.process_time() - cpu

    event.listen(engine, "before_cursor_execute", count)
    times: dict[str, list[float]] = {}
    sql: dict[str, set[int]] = {}
    cpu: dict[str, list[float]] = {}
    # Four coupons each: the first two at stores without a PIN; the last two at stores with one
    # ("with_pin"), or, in code without PINs, at other plain stores ("later_without_pin"), so
    # that A/B runs compare uses made at the same point.
    for k in range(4):
        for i, (phone, token) in enumerate(phones):
            if k < 2:
                kind, seconds_sql = "without_pin", use(phone, token, plain[(i + k) % len(plain)])
            elif pinned:
                kind, seconds_sql = "with_pin", use(phone, token, pinned[(i + k) % 4], PIN)
            else:
                kind, seconds_sql = "later_without_pin", use(phone, token, plain[(i + k) % 4])
            times.setdefault(kind, []).append(seconds_sql[0])
            sql.setdefault(kind, set()).add(seconds_sql[1])
            cpu.setdefault(kind, []).append(seconds_sql[2])
    event.remove(engine, "before_cursor_execute", count)
    run = {
        kind: {
            **_figures(times[kind]),
            "cpu_mean_ms": round(statistics.fmean(cpu[kind]) * 1000, 2),
            "sql_per_use": sorted(sql[kind]),
        }
        for kind in times
    }
    engine.dispose()
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=3, help="runs of the whole loop")
    args = parser.parse_args(argv)

    settings = {
        "kariya.environment": "bench",
        "sqlalchemy.url": DATABASE_URL,
        "kariya.redis_url": REDIS_URL,
        "kariya.session_secret": "bench-only-session-secret-0123456789abcdef",
        "kariya.public_url": "http://localhost",
        "kariya.clock": "settable",
        "kariya.line.simulator": "true",
        "celery.always_eager": "true",
        "celery.broker_url": "memory://",
    }
    runs = [_run(settings, args.persons) for _ in range(args.repeat)]
    print(json.dumps({"persons": args.persons, "load": os.getloadavg()[0], "runs": runs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
