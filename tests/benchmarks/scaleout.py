"""Benchmark: the weekly rush past one machine (issue 16). Two app instances behind HAProxy,
PgBouncer in transaction mode in front of PostgreSQL, the rush run through them.

    make bench-scaleout   # = .venv/bin/python -m tests.benchmarks.scaleout
    .venv/bin/python -m tests.benchmarks.scaleout [--instances 2] [--workers-per-instance 1]
                                                  [--pool 8] [--balance leastconn] [--single]

Needs, besides PostgreSQL at 127.0.0.1:5432 and Redis at 127.0.0.1:6379, Debian's `pgbouncer`
(1.18 in Debian 12) and `haproxy` (2.6); if missing, install them with `apt-get install
--no-install-recommends pgbouncer haproxy` (`make bench-scaleout` does). Neither runs as a
service: proxies.py starts each as a plain process on a free port of 127.0.0.1 with a config
generated in the run's temporary directory, like gunicorn.

1. Writes two copies of tests/benchmarks/bench.ini into a temporary directory, both on the
   database `kariya_bench_scaleout` and Redis database 4 (not bench.ini's, which other runs use):
   the direct one (PostgreSQL itself; the setup and the counts use it) and the served one, whose
   `sqlalchemy.url` is PgBouncer's and which sets `sqlalchemy.prepare_threshold = none` (psycopg
   3 would otherwise prepare statements on a server connection that PgBouncer 1.18 gives the
   next transaction to someone else; with `--prepare-threshold 5`, psycopg's default, 881 of a
   small run's 2,000 acquisitions answered 500: prepared statement "_pg3_103" does not exist)
   and `kariya.trusted_proxies = 127.0.0.1` (HAProxy adds X-Forwarded-For, as a production
   balancer does).
2. Prepares the rush exactly as rush.py does (a fresh database, round 1 open with 10,000 packs,
   20,065 residents).
3. Starts PgBouncer (pool_mode = transaction, `--pool` server connections in all, 8 by default:
   the same 8 as the single-machine run's 2 workers x 4), the app instances under gunicorn
   (serving.py, each on its own free port, each with its own pool of client connections to
   PgBouncer; 1 gthread worker x 4 threads each by default, the single-machine run's 2 workers
   in all), and HAProxy in http mode balancing them (`--balance`, leastconn by default), with
   a health check on /healthz/live and no stickiness: a resident's session lives in Redis, and
   before the rush one session is checked on every instance directly.
4. Runs rush.py's load generator through HAProxy, counts the outcome straight from PostgreSQL
   and checks the same targets as rush.py (acquired = packs, oversold = duplicates =
   other_errors = 0, coupons = 4 x acquisitions, ledger ok, time and p99 targets).

Everything is stopped on the way out (each process has its own process group: TERM, then KILL),
also on Ctrl-C, SIGTERM or the time limit. Prints rush.py's summary with the topology, how the
balancer split the requests and what PgBouncer saw, then one JSON line like rush.py's with the
topology's fields. Exits as rush.py does: 1 when a target is missed, 2 when the run fails.

`--single` runs rush.py itself (one gunicorn with the same total of workers, straight to
PostgreSQL) on the same database copy: the baseline to take back to back with the scale-out run.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from sqlalchemy.engine import make_url

from kariya.security.sessions import COOKIE_NAME
from tests.benchmarks import rush
from tests.benchmarks.loadgen import ME_PATH, SessionMinter
from tests.benchmarks.proxies import Bouncer, haproxy, pgbouncer
from tests.benchmarks.serving import gunicorn, tail

DATABASE = "kariya_bench_scaleout"
REDIS_URL = "redis://127.0.0.1:6379/4"


class Stopped(Exception):
    """SIGTERM arrived: stop everything and leave."""


def ini_copy(source: Path, target: Path, overrides: dict[str, str]) -> Path:
    """`source` with the [app:main] keys of `overrides` replaced (or added at the section's
    end); comments and the logging sections stay as they are."""
    lines, section, seen = [], "", set()

    def add_missing() -> None:
        lines.extend(f"{k} = {v}" for k, v in overrides.items() if k not in seen)
        seen.update(overrides)

    for line in source.read_text().splitlines():
        header = re.match(r"\s*\[(.+)\]\s*$", line)
        if header:
            if section == "app:main":
                add_missing()
            section = header.group(1)
        key = line.split("=", 1)[0].strip() if "=" in line else None
        if section == "app:main" and key in overrides and not line.lstrip().startswith("#"):
            line = f"{key} = {overrides[key]}"
            seen.add(key)
        lines.append(line)
    if section == "app:main":
        add_missing()
    target.write_text("\n".join(lines) + "\n")
    return target


def direct_url(port: int = 5432) -> str:
    base = make_url(rush.app_settings(rush.BENCH_INI)["sqlalchemy.url"])
    return base.set(port=port, database=DATABASE).render_as_string(hide_password=False)


def same_session_everywhere(base_urls: list[str], settings: dict, person_id: int) -> list[int]:
    """One resident's session, minted once, asked for on each instance directly: every
    instance must know it (GET /api/v1/me answers 200 with its CSRF token)."""
    minter = SessionMinter(settings["kariya.session_secret"], settings["kariya.redis_url"])
    [(cookie, token)] = minter.mint_all([person_id])
    statuses = []
    for base in base_urls:
        request = urllib.request.Request(
            base + ME_PATH, headers={"Cookie": f"{COOKIE_NAME}={cookie}"}
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            body = json.load(resp)
            statuses.append(resp.status if body.get("csrf_token") == token else -resp.status)
    if statuses != [200] * len(base_urls):
        raise RuntimeError(f"one session is not known to every instance: {statuses}")
    return statuses


@dataclasses.dataclass
class Topology:
    """What the JSON line says of the set-up beside the figures."""

    instances: int
    workers_per_instance: int
    pgbouncer: str
    pool: int
    balancer: str
    split: list[int]
    downs: int
    queue_max: int
    pgbouncer_stats: dict

    def fields(self) -> dict:
        return {
            "topology": "scale-out",
            "instances": self.instances,
            "workers_per_instance": self.workers_per_instance,
            "pgbouncer": f"{self.pgbouncer} transaction, {self.pool} server connections",
            "pgbouncer_pool": self.pool,
            "balancer": self.balancer,
            "split": self.split,
            "checks_down": self.downs,
            "haproxy_queue_max": self.queue_max,
            **{f"pgbouncer_{k}": v for k, v in self.pgbouncer_stats.items()},
        }


def served_ini(workdir: Path, bouncer: Bouncer, prepare_threshold: str) -> Path:
    """The instances' ini: the database through PgBouncer, HAProxy a trusted proxy."""
    return ini_copy(
        rush.BENCH_INI,
        workdir / "served.ini",
        {
            "sqlalchemy.url": direct_url(bouncer.port),
            "sqlalchemy.prepare_threshold": prepare_threshold,
            "kariya.redis_url": REDIS_URL,
            "kariya.trusted_proxies": "127.0.0.1",
        },
    )


def scaled_rush(
    args: argparse.Namespace, setup: rush.Setup, workdir: Path, deadline: float
) -> tuple[dict, Topology, str]:
    """Start PgBouncer, the instances and HAProxy; run the load generator through HAProxy;
    stop everything. Returns the load generator's result, the topology, the servers' log."""
    clients = args.instances * args.workers_per_instance * args.threads
    with contextlib.ExitStack() as stack:
        try:
            return _through_the_balancer(args, setup, workdir, deadline, stack, clients)
        finally:
            signal.alarm(0)  # the time limit must not cut the stopping short


def _through_the_balancer(args, setup, workdir, deadline, stack, clients):
    bouncer = stack.enter_context(
        pgbouncer(workdir / "pgbouncer", direct_url(), args.pool, 8 * clients)
    )
    ini = served_ini(workdir, bouncer, args.prepare_threshold)
    servers = []
    for n in range(1, args.instances + 1):
        home = workdir / f"app{n}"
        home.mkdir()
        servers.append(
            stack.enter_context(
                gunicorn(
                    ini, args.workers_per_instance, args.worker_class, args.threads, home, deadline
                )
            )
        )
    backends = [s.base_url.removeprefix("http://") for s in servers]
    balancer = stack.enter_context(
        haproxy(workdir / "haproxy", backends, args.balance, args.server_maxconn)
    )
    same_session_everywhere([s.base_url for s in servers], setup.settings, setup.person_ids[0])
    before = balancer.servers()
    spec = rush.loadgen_spec(args, setup, balancer.base_url, deadline)
    load = rush.run_loadgen(spec, timeout=max(1.0, deadline - time.monotonic() - 20))
    after = balancer.servers()
    topology = Topology(
        instances=args.instances,
        workers_per_instance=args.workers_per_instance,
        pgbouncer=f"pgbouncer {bouncer.version}",
        pool=args.pool,
        balancer=f"haproxy {balancer.version} {args.balance}",
        split=[after[name]["responses"] - before[name]["responses"] for name in after],
        downs=sum(s["downs"] for s in after.values()),
        queue_max=max(s["queue_max"] for s in after.values()),
        pgbouncer_stats=bouncer.stats(),
    )
    logs = "\n".join(
        f"--- {log.parent.name}\n{tail(log, 10)}"
        for log in [balancer.log] + [s.log for s in servers]
    )
    return load, topology, logs


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=2, help="app instances (gunicorns)")
    parser.add_argument("--workers-per-instance", type=int, default=1)
    parser.add_argument("--worker-class", default=rush.WORKER_CLASS, choices=("sync", "gthread"))
    parser.add_argument("--threads", type=int, default=rush.THREADS, help="threads per worker")
    parser.add_argument("--pool", type=int, default=8, help="PgBouncer's server connections")
    parser.add_argument("--balance", default="leastconn", choices=("leastconn", "roundrobin"))
    parser.add_argument(
        "--server-maxconn", type=int, default=0, help="HAProxy's limit per instance (0: none)"
    )
    parser.add_argument(
        "--prepare-threshold", default="none", help="the served ini's sqlalchemy.prepare_threshold"
    )
    parser.add_argument("--persons", type=int, default=rush.PERSONS)
    parser.add_argument("--packs", type=int, default=rush.PACKS, help="round 1's quota in packs")
    parser.add_argument("--concurrency", type=int, default=256, help="requests in flight")
    parser.add_argument("--trivial", type=int, help="GET /healthz/live count (default: --persons)")
    parser.add_argument("--request-timeout", type=float, default=30.0)
    parser.add_argument("--time-limit", type=int, default=300, help="seconds for the whole run")
    parser.add_argument(
        "--single", action="store_true", help="run rush.py on the same database copy instead"
    )
    args = parser.parse_args(argv)
    if args.trivial is None:
        args.trivial = args.persons
    # What rush.py's report and targets read: the workers in all, no profile, the server (the
    # instances run under gunicorn: serving.gunicorn).
    args.workers, args.profile = args.instances * args.workers_per_instance, None
    args.server = "gunicorn"
    return args


def single(args: argparse.Namespace, direct_ini: Path) -> int:
    """The baseline: rush.py with one gunicorn of the same workers, straight to PostgreSQL."""
    return rush.main(
        ["--ini", str(direct_ini), "--workers", str(args.workers)]
        + ["--worker-class", args.worker_class, "--threads", str(args.threads)]
        + ["--persons", str(args.persons), "--packs", str(args.packs)]
        + ["--concurrency", str(args.concurrency), "--trivial", str(args.trivial)]
        + ["--request-timeout", str(args.request_timeout), "--time-limit", str(args.time_limit)]
    )


def on_term(_signum: int, _frame: object) -> None:
    raise Stopped("SIGTERM")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="kariya-scaleout-") as tmp:
        workdir = Path(tmp)
        workdir.chmod(0o755)  # PgBouncer, running as postgres, reads its config below
        args.ini = ini_copy(
            rush.BENCH_INI,
            workdir / "direct.ini",
            {"sqlalchemy.url": direct_url(), "kariya.redis_url": REDIS_URL},
        )
        if args.single:
            return single(args, args.ini)
        deadline = time.monotonic() + args.time_limit
        signal.signal(signal.SIGALRM, rush.on_alarm)
        signal.signal(signal.SIGTERM, on_term)
        signal.alarm(args.time_limit)  # every process is stopped on the way out
        try:
            setup = rush.prepare(args)
            load, topology, server_log = scaled_rush(args, setup, workdir, deadline)
            outcome = rush.count_outcome(
                setup.engine, setup.campaign_id, setup.round_id, args.packs
            )
            setup.engine.dispose()
        except (rush.BenchTimeout, subprocess.TimeoutExpired) as exc:
            print(f"benchmark stopped: over its time limit of {args.time_limit} s ({exc})")
            return 2
        except (RuntimeError, Stopped) as exc:
            print(f"benchmark failed: {exc}")
            return 2
        except KeyboardInterrupt:
            print("benchmark interrupted (everything it started is stopped)")
            return 130
        finally:
            signal.alarm(0)

    result = rush.figures(args, setup, load, outcome)
    missed = rush.missed_targets(args, result, outcome)
    print(
        f"scale-out: {args.instances} instances x {args.workers_per_instance} workers behind "
        f"{topology.balancer}, each instance on {topology.pgbouncer} (transaction pooling, "
        f"{args.pool} server connections in all); answers per instance {topology.split}, "
        f"instances taken out by the health check {topology.downs} times, at most "
        f"{topology.queue_max} requests queued in HAProxy for one instance"
    )
    rush.report(args, load, outcome, load_before)
    stats = topology.pgbouncer_stats
    print(
        f"pgbouncer: {stats['transactions']:,} transactions, {stats['queries']:,} queries; "
        f"a transaction waited {stats['wait_ms_per_xact']:.2f} ms for a server connection on "
        "average"
    )
    if result["other_errors"]:
        print(f"gunicorn logs (tail):\n{server_log}")
    print("targets: " + ("all met" if not missed else "MISSED " + ", ".join(missed)))
    line = {**result, **topology.fields(), "load_before": round(load_before, 2)}
    print(json.dumps({k: None if v != v else v for k, v in line.items()}))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
