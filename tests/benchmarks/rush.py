"""Benchmark: the weekly rush. 20,065 residents ask at once for round 1's 10,000 packs, while
residents who acquired earlier use coupons at stores (issue 16).

    .venv/bin/python -m tests.benchmarks.rush [--concurrency 256] [--worker-class sync]
        [--profile DIR] [--uses-rate 50] [--uses-via till|main] [--uses-server 1x4]

1. Drops and recreates the PostgreSQL database named in bench.ini (`kariya_bench`), migrates it.
2. Loads a campaign of 6 weekly rounds; round 1 started an hour ago (real clock) and its quota is
   exactly 10,000 packs of 4 x 500 yen, plus one pack for each resident of step 3b; the ticker
   opens it.
3. Inserts 20,065 residents with profiles (one executemany insert). b. With the stream of uses
   (tills.py): 40 active stores and residents of their own who acquired round 1 already, through
   the real service (enough for the plan, about 2,370 for the full run at 50 uses/s), so the rush
   still has exactly 10,000 packs. Then ANALYZE (a database in use has planner statistics).
4. Serves bench.ini under gunicorn on a free port of 127.0.0.1: 2 gthread workers of 32 threads
   each by default (64 requests in progress at most). Each process writes its acquisitions by
   group commit (kariya/coupons/group_commit.py): a request thread hands its ask over and waits
   for its batch, so many threads per process fill the batches (the README's issue-16 runs).
   `--worker-class sync` measures the other model; `--server granian` serves both instances
   under granian instead (2 workers of --threads blocking threads: the side-by-side runs of the
   README). With `--uses-via till`
   (the default) a second, small instance of the same ini serves the uses (`--uses-server`,
   1 gthread worker x 4 threads, its own pool), as the load balancer sends the stores' requests
   to their own instances in production; `--uses-via main` sends them to the rush's instance.
   Both instances share this machine's 2 cores, where in production the stores' instances
   have machines of their own: the rush's runs at a lower CPU priority (`--rush-nice`, 10 by
   default; 0: the two share the cores evenly), so that the stores' keep the share they would
   have on their own machine and the rush takes what is left.
5. Runs the load generator (loadgen.py) in a separate process: one POST /api/v1/acquisitions
   per resident, 256 in flight (closed loop: latencies include queueing in gunicorn's backlog),
   then as many GET /healthz/live for the trivial baseline. The stream of uses (`--uses-rate`
   per second, 0: none) runs from a client of its own in an open loop at that fixed rate:
   first a warm-up and 10 s alone (the baseline), then from the acquisitions' start to their
   end; each use's latency runs from its scheduled send time.
6. Counts from the database: acquisitions, overselling, duplicates, coupons, the ledger check;
   the residents who acquired before the rush apart (4 coupons each); the uses recorded and the
   coupons used against the 201s.

Prints a short summary and, as the last line, one JSON object (with the uses' figures: uses,
uses_ok, uses_errors, uses_p50_ms, uses_p99_ms, uses_rate, uses_via, the baseline's
uses_alone_p50_ms / uses_alone_p99_ms, and the load average before and after). Exits 1 when a
target is missed (acquired = 10,000, oversold = duplicates = other_errors = 0, ledger ok, all
answered within 60 s, p99 under 1,500 ms; uses recorded = their 201s; with the stream:
uses_errors = 0, uses p99 <= 100 ms, the plan lasted the whole rush), 2 when the run fails or
passes its time limit (--time-limit, 300 s by default); gunicorn is always stopped. Needs
PostgreSQL at 127.0.0.1:5432 and Redis at 127.0.0.1:6379. Everything shares 2 cores with the
database and the load generator, so other work on the machine moves the figures a lot: the
summary shows the load average before the run. The uses cost the rush a share of those cores
(about 15-19 ms of the app's CPU a use): compare acquisition figures with `--uses-rate 0` runs.

With --profile DIR, py-spy samples each gunicorn worker (wall clock, idle included) during the
acquisitions, and their request time is printed by place, split into waiting on PostgreSQL
(psycopg) and the rest. Profile with `--worker-class sync`: with threads, py-spy costs much
more and a thread waiting for the GIL after a query still counts as waiting on PostgreSQL.
`--ini` serves another paste ini (e.g. an experiment) with the same database and secret keys.
"""

from __future__ import annotations

import argparse
import configparser
import contextlib
import dataclasses
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from kariya.audit import ledger_check
from kariya.campaign import definition
from kariya.clock import Clock, FixedClock
from kariya.coupons import ticker
from kariya.db import get_session_factory
from kariya.migrations import upgrade
from kariya.models import Acquisition, Campaign, Coupon, Person, Round, TermsConsent
from kariya.residents import refs
from kariya.settings import PROJECT_ROOT
from tests.benchmarks import tills
from tests.benchmarks.serving import COMMANDS, child_env, describe, serve, tail
from tests.benchmarks.spy import print_profile, profiled
from tests.helpers import campaign_toml, seed_documents

BENCH_INI = Path(__file__).with_name("bench.ini")
PERSONS = 20_065
PACKS = 10_000
FACE, PER_PACK = 500, 4  # what tests.helpers.campaign_toml writes
PACK = FACE * PER_PACK
ROUNDS = 6
CAMPAIGN_NAME = "週次ラッシュ ベンチマーク"

# Measured best here (README): gthread with 32 threads per worker. The group commit
# (kariya/coupons/group_commit.py) answers each process's acquisitions in batches, so it needs
# many requests in flight per process; each thread waits for its batch, not for PostgreSQL.
WORKER_CLASS, THREADS = "gthread", 32
RUSH_NICE = 10

# Targets (the brief of the rush): a miss makes the run exit 1.
MAX_SECONDS = 60.0
MAX_P99_MS = 1500.0


class BenchTimeout(Exception):
    """The run went past its overall time limit."""


def app_settings(ini: Path) -> dict[str, str]:
    """The [app:main] settings of a paste ini, as the app will read them."""
    parser = configparser.ConfigParser(defaults={"here": str(ini.parent.resolve())})
    parser.read(ini)
    return dict(parser["app:main"])


def fresh_database(url: str) -> sa.Engine:
    """Drop and create the database of `url`, migrate it, return an engine on it. Only a
    local database whose name says it is a benchmark's is ever dropped."""
    target = make_url(url)
    if target.host not in ("127.0.0.1", "localhost") or "bench" not in (target.database or ""):
        raise RuntimeError(f"refusing to drop {target.database!r} on {target.host!r}")
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()
    engine = sa.create_engine(url)
    upgrade(engine)
    seed_documents(engine)  # as `kariya initdb` does: the terms to agree to
    return engine


def load_campaign(engine: sa.Engine, now: dt.datetime, packs: int) -> tuple[int, int]:
    """A campaign whose round 1 started an hour ago with a quota of `packs` packs, opened by
    the ticker on the real clock. Returns (campaign id, round 1 id)."""
    round1 = (now - dt.timedelta(hours=1)).replace(microsecond=0)
    planned = packs * PACK
    text = campaign_toml(
        total=planned * ROUNDS,
        rounds=ROUNDS,
        planned=[planned] * ROUNDS,
        start=round1,
        name=CAMPAIGN_NAME,
    )
    spec = definition.parse(text)
    db = get_session_factory(engine)()
    try:
        campaign = definition.load(db, FixedClock(round1 - dt.timedelta(days=1)), spec, "bench")
        db.commit()
        opened = ticker.run_due(db, Clock(), actor="bench")
        db.commit()
        rnd = db.scalar(sa.select(Round).where(Round.campaign_id == campaign.id, Round.number == 1))
        if rnd.state != "open" or rnd.quota != planned or not opened["opened"]:
            raise RuntimeError(f"round 1 is {rnd.state} with quota {rnd.quota:,}, not open")
        return campaign.id, rnd.id
    finally:
        db.close()


def insert_persons(engine: sa.Engine, count: int, now: dt.datetime) -> list[int]:
    """`count` residents who have registered their profile and agreed to the terms (version 1),
    in executemany inserts."""
    rows = [
        {
            "line_user_id": "U" + uuid.uuid4().hex,
            "ref": f"{n:011d}" + refs.check_digit(f"{n:011d}"),
            "display_name": f"市民{n}",
            "age_band": ("20s", "30s", "40s", "50s", "60s", "70s")[n % 6],
            "area": "kariya",
            "profile_at": now,
            "created_at": now,
        }
        for n in range(count)
    ]
    with engine.begin() as conn:
        conn.execute(sa.insert(Person), rows)
        ids = list(conn.scalars(sa.select(Person.id).order_by(Person.id)))
        conn.execute(
            sa.insert(TermsConsent), [{"person_id": i, "version": 1, "agreed_at": now} for i in ids]
        )
        return ids


def loadgen_spec(args: argparse.Namespace, setup: Setup, base_url: str, deadline: float) -> dict:
    """What the load generator is told: where, whose sessions, how many in flight, how long."""
    phases = 2 if args.trivial else 1
    return {
        "base_url": base_url,
        "secret": setup.settings["kariya.session_secret"],
        "redis_url": setup.settings["kariya.redis_url"],
        "person_ids": setup.person_ids,
        "concurrency": args.concurrency,
        "trivial_requests": args.trivial,
        "request_timeout": args.request_timeout,
        "phase_timeout": max(1.0, (deadline - time.monotonic() - 30) / phases),
    }


def run_loadgen(spec: dict, timeout: float) -> dict:
    """Run loadgen.py in its own process; its last stdout line is its result."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.loadgen"],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=child_env(),
        timeout=timeout,
    )
    if done.returncode not in (0, 1) or not done.stdout.strip():
        raise RuntimeError(f"loadgen failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for check in ("verify", "uses_verify"):
        if not result.get(check, {"ok": True})["ok"]:
            raise RuntimeError(f"a minted session cookie was refused: {result[check]}")
    return result


def count_outcome(engine: sa.Engine, campaign_id: int, round_id: int, packs: int) -> dict:
    """What the database says after the rush: `acquired` and `coupons` are the rush's residents'
    (those who use coupons meanwhile acquired before it: tills.py, counted apart)."""
    db = get_session_factory(engine)()
    try:
        rnd = db.get(Round, round_id)
        earlier = tills.earlier_persons().scalar_subquery()
        acquired = db.scalar(
            sa.select(sa.func.count()).where(
                Acquisition.round_id == round_id, Acquisition.person_id.not_in(earlier)
            )
        )
        pairs = (
            sa.select(Acquisition.round_id, Acquisition.person_id)
            .group_by(Acquisition.round_id, Acquisition.person_id)
            .having(sa.func.count() > 1)
            .subquery()
        )
        duplicates = db.scalar(sa.select(sa.func.count()).select_from(pairs))
        coupons = db.scalar(
            sa.select(sa.func.count()).where(
                Coupon.round_id == round_id, Coupon.person_id.not_in(earlier)
            )
        )
        report = ledger_check.check(db, db.get(Campaign, campaign_id))
        return {
            "acquired": acquired,
            "oversold": max(0, rnd.issued - rnd.quota) + (1 if acquired > packs else 0),
            "duplicates": duplicates,
            "coupons": coupons,
            "coupons_ok": coupons == PER_PACK * acquired,
            "round_state": rnd.state,
            "issued": rnd.issued,
            "quota": rnd.quota,
            "ledger_ok": report.ok,
            "ledger_problems": report.problems,
            **tills.count_uses(db, round_id),
        }
    finally:
        db.close()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ini", type=Path, default=BENCH_INI, help="paste ini to serve")
    parser.add_argument("--persons", type=int, default=PERSONS)
    parser.add_argument("--packs", type=int, default=PACKS, help="round 1's quota in packs")
    parser.add_argument("--concurrency", type=int, default=256, help="requests in flight")
    parser.add_argument(
        "--trivial", type=int, help="GET /healthz/live count (default: --persons; 0 with --profile)"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--rush-nice",
        type=int,
        default=RUSH_NICE,
        help="with --uses-via till: the rush's instance's CPU priority (the stores' stay at 0)",
    )
    parser.add_argument(
        "--server",
        default="gunicorn",
        choices=sorted(COMMANDS),
        help="the WSGI server of both instances; granian: side by side (README, issue 16)",
    )
    parser.add_argument("--worker-class", default=WORKER_CLASS, choices=("sync", "gthread"))
    parser.add_argument("--threads", type=int, default=THREADS, help="threads per gthread worker")
    parser.add_argument("--request-timeout", type=float, default=30.0)
    parser.add_argument("--time-limit", type=int, default=300, help="seconds for the whole run")
    parser.add_argument("--profile", type=Path, help="py-spy the workers, write stacks here")
    parser.add_argument("--profile-rate", type=int, default=200, help="py-spy samples per s")
    parser.add_argument("--uses-rate", type=float, default=50, help="uses/s at stores; 0: none")
    parser.add_argument(
        "--uses-via",
        default="till",
        choices=("main", "till"),
        help="till: the uses go to an instance of their own; main: to the rush's",
    )
    parser.add_argument(
        "--uses-server",
        type=tills.server_shape,
        default=tills.TILL_SERVER,
        help="the stores' instance: gthread WORKERSxTHREADS",
    )
    parser.add_argument(
        "--uses-seconds",
        type=float,
        help="the uses' plan lasts this long in the rush (default: tills.plan_seconds)",
    )
    args = parser.parse_args(argv)
    if args.trivial is None:
        # A profile is of the acquisitions alone unless --trivial asks for the baseline too.
        args.trivial = 0 if args.profile else args.persons
    return args


@dataclasses.dataclass
class Setup:
    settings: dict[str, str]
    engine: sa.Engine
    campaign_id: int
    round_id: int
    person_ids: list[int]
    tills: tills.Tills | None = None  # the stores, and residents who use coupons at them


def prepare(args: argparse.Namespace) -> Setup:
    """A fresh database with the campaign (round 1 open) and the residents; with a stream of uses
    (--uses-rate), also the stores and the residents who use coupons there, who acquired round 1
    already: its quota is --packs plus their packs, so the rush has exactly --packs."""
    started = time.monotonic()
    settings = app_settings(args.ini)
    now = dt.datetime.now(dt.UTC)
    engine = fresh_database(settings["sqlalchemy.url"])
    seconds = getattr(args, "uses_seconds", None) or tills.plan_seconds(
        args.persons, getattr(args, "time_limit", 300)
    )
    earlier = tills.residents_needed(getattr(args, "uses_rate", 0), seconds)
    campaign_id, round_id = load_campaign(engine, now, args.packs + earlier)
    person_ids = insert_persons(engine, args.persons, now)
    at_stores = tills.prepare(engine, campaign_id, earlier, now) if earlier else None
    # Planner statistics, as a database in use has them (autovacuum may be off here, as it is on
    # this machine's server): without them a use's coupon lookup took the (round, state) index
    # and scanned the whole round's issued coupons, slower with every pack the rush issued.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("ANALYZE"))
    print(
        f"setup: {len(person_ids):,} residents, round 1 quota {args.packs:,} packs for them "
        f"+ {earlier:,} acquired already by residents who use coupons at "
        f"{tills.STORES if earlier else 0} stores ({time.monotonic() - started:.1f} s)",
        file=sys.stderr,
    )
    return Setup(settings, engine, campaign_id, round_id, person_ids, at_stores)


def rush(args: argparse.Namespace, setup: Setup, deadline: float) -> tuple[dict, list[Path], str]:
    """Serve the app (and, for --uses-via till, a small instance of it for the stores' uses),
    run the load generator against it (py-spy watching when asked), stop the app. Returns the
    load generator's result, the profile files and the server logs' tail."""
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kariya-rush-")))
        uses_apart = setup.tills is not None and args.uses_rate > 0 and args.uses_via == "till"
        server = stack.enter_context(
            serve(
                args.server,
                args.ini,
                args.workers,
                args.worker_class,
                args.threads,
                workdir,
                deadline,
                nice=args.rush_nice if uses_apart else 0,
            )
        )
        stores = server
        if uses_apart:
            (workdir / "till").mkdir()
            workers, threads = args.uses_server
            stores = stack.enter_context(
                serve(
                    args.server, args.ini, workers, "gthread", threads, workdir / "till", deadline
                )
            )
        profiles = stack.enter_context(
            profiled(server.worker_pids, args.profile, args.profile_rate)
        )
        spec = {
            **loadgen_spec(args, setup, server.base_url, deadline),
            **tills.stream_spec(setup.tills, args.uses_rate, stores.base_url),
        }
        own = stores is not server  # the stores' instance: its CPU a use
        cpu = tills.cpu_seconds(stores.worker_pids) if own else 0.0
        load = run_loadgen(spec, timeout=max(1.0, deadline - time.monotonic() - 20))
        if own:
            load["uses_server_cpu_s"] = tills.cpu_seconds(stores.worker_pids) - cpu
        logs = tail(server.log, 10)
        if own:
            logs += "\n(the stores' instance)\n" + tail(stores.log, 10)
        return load, profiles, logs


def figures(args: argparse.Namespace, setup: Setup, load: dict, outcome: dict) -> dict:
    """The JSON line."""
    acquire, baseline = load["acquire"], load.get("trivial") or {}
    outcomes = acquire["outcomes"]
    sold_out = outcomes.get("409 SOLD_OUT", 0)
    trivial_rps = baseline.get("rps", 0.0)
    return {
        "persons": len(setup.person_ids),
        "acquired": outcome["acquired"],
        "sold_out": sold_out,
        "other_errors": acquire["requests"] - outcomes.get("201", 0) - sold_out,
        "seconds": acquire["seconds"],
        "acquisitions_per_s": acquire["rps"],
        "p50_ms": acquire["p50_ms"],
        "p99_ms": acquire["p99_ms"],
        "trivial_rps": trivial_rps,
        "ratio": round(acquire["rps"] / trivial_rps, 3) if trivial_rps else None,
        "server": args.server,
        "oversold": outcome["oversold"],
        "duplicates": outcome["duplicates"],
        "ledger_ok": outcome["ledger_ok"],
        **tills.figures(args, setup.tills, load),
    }


def missed_targets(args: argparse.Namespace, result: dict, outcome: dict) -> list[str]:
    checks = (
        (f"acquired = {args.packs:,}", result["acquired"] == args.packs),
        ("oversold = 0", result["oversold"] == 0),
        ("duplicates = 0", result["duplicates"] == 0),
        ("other_errors = 0", result["other_errors"] == 0),
        ("coupons = 4 x acquisitions", outcome["coupons_ok"]),
        ("ledger ok", result["ledger_ok"]),
        *tills.targets(result, outcome),
        (f"answered within {MAX_SECONDS:.0f} s", result["seconds"] <= MAX_SECONDS),
        (f"p99 under {MAX_P99_MS:,.0f} ms", result["p99_ms"] < MAX_P99_MS),
    )
    return [name for name, ok in checks if not ok]


def report(args: argparse.Namespace, load: dict, outcome: dict, load_before: float) -> None:
    """The human summary."""
    acquire, baseline = load["acquire"], load.get("trivial") or {}
    print(
        "session cookie minted offline: accepted (GET /api/v1/me answered "
        f"{load['verify']['status']} with the same CSRF token)"
    )
    server_kind = describe(args.server, args.workers, args.worker_class, args.threads)
    print(
        f"{server_kind}, {args.concurrency} requests in flight "
        f"(closed loop: latencies include queueing); load average before {load_before:.1f} "
        f"on {os.cpu_count()} cores"
    )
    print(
        f"acquisition: {acquire['requests']:,} requests in {acquire['seconds']:.1f} s = "
        f"{acquire['rps']:,.0f}/s; p50 {acquire['p50_ms']:.0f} ms, p90 {acquire['p90_ms']:.0f} "
        f"ms, p99 {acquire['p99_ms']:.0f} ms, max {acquire['max_ms']:.0f} ms; the load "
        f"generator used {acquire['client_cpu']:.0%} of a core"
    )
    for label, by in acquire["by_outcome"].items():
        print(
            f"  {acquire['outcomes'][label]:>6,} x {label:<14} p50 {by['p50_ms']:>6.0f} ms, "
            f"p99 {by['p99_ms']:>6.0f} ms, the last at {by['last_at_s']:.1f} s"
        )
    if baseline:
        print(
            f"trivial GET /healthz/live: {baseline['rps']:,.0f}/s (p50 {baseline['p50_ms']:.0f} "
            f"ms, p99 {baseline['p99_ms']:.0f} ms, answers {baseline['outcomes']}; load "
            f"generator {baseline['client_cpu']:.0%} of a core)"
        )
    print(
        f"database: {outcome['acquired']:,} acquisitions, {outcome['coupons']:,} coupons "
        f"({'=' if outcome['coupons_ok'] else '!='} 4 x acquisitions), round 1 "
        f"{outcome['round_state']}, issued {outcome['issued']:,} of {outcome['quota']:,} yen, "
        f"duplicates {outcome['duplicates']}"
    )
    tills.report(args, load, outcome)
    problems = "; ".join(outcome["ledger_problems"])
    print("ledger check: " + ("ok" if outcome["ledger_ok"] else f"FAILED {problems}"))


def on_alarm(_signum: int, _frame: object) -> None:
    raise BenchTimeout("the benchmark went past its time limit")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load_before = os.getloadavg()[0]
    deadline = time.monotonic() + args.time_limit
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(args.time_limit)  # the server is stopped on the way out (see serving.serve)
    try:
        setup = prepare(args)
        load, profiles, server_log = rush(args, setup, deadline)
        outcome = count_outcome(setup.engine, setup.campaign_id, setup.round_id, args.packs)
        setup.engine.dispose()
    except (BenchTimeout, subprocess.TimeoutExpired) as exc:
        print(f"benchmark stopped: over its time limit of {args.time_limit} s ({exc})")
        return 2
    except RuntimeError as exc:
        print(f"benchmark failed: {exc}")
        return 2
    finally:
        signal.alarm(0)

    result = figures(args, setup, load, outcome)
    missed = missed_targets(args, result, outcome)
    report(args, load, outcome, load_before)
    if result["other_errors"] or result["uses_errors"]:
        print(f"{args.server} log (tail):\n{server_log}")
    if args.profile:
        print_profile(profiles, args.profile)
    print("targets: " + ("all met" if not missed else "MISSED " + ", ".join(missed)))
    # One JSON object on the last line; a figure that could not be measured is null.
    result["load_before"] = round(load_before, 2)
    result["load_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps({k: None if v != v else v for k, v in result.items()}))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
