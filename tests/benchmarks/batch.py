"""Benchmark: the Python CPU of the group commit's batch (kariya.coupons.batch, issue 16) beside
the single path's acquisition (kariya.coupons.acquisition.acquire), in the same run.

    .venv/bin/python -m tests.benchmarks.batch [--size 30] [--batches 150] [--single 1500]

Builds the rush's database (`kariya_bench` of bench.ini: dropped and made again, as
tests/benchmarks/rush.py does) with round 1 open and enough residents, then in this process:

1. the baseline: `--single` acquisitions by the single path, each in its own transaction;
2. `--batches` batches of `--size` asks through `batch.acquire_many`, each one transaction (the
   first five warm up and are not counted).

Prints the CPU time of this process (time.process_time: the Python and the driver, not the
database's) and the wall time, per acquisition and per batch, and a JSON line. No server, no
threads: it measures what one committer pays to write a batch, which under the rush competes
with the request threads for the process's one GIL.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time

from kariya.clock import Clock
from kariya.coupons import acquisition, batch
from kariya.db import get_engine, get_session_factory
from tests.benchmarks import rush

WARM_UP = 5


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=30, help="asks a batch")
    parser.add_argument("--batches", type=int, default=150)
    parser.add_argument("--single", type=int, default=1500, help="single-path acquisitions")
    return parser.parse_args(argv)


def timed(work) -> tuple[float, float]:
    """(CPU seconds of this process, wall seconds) that `work()` took."""
    cpu, wall = time.process_time(), time.perf_counter()
    work()
    return time.process_time() - cpu, time.perf_counter() - wall


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    batched = args.size * args.batches
    packs = args.single + batched + 10  # never near the end: no batch falls back
    setup = rush.prepare(
        argparse.Namespace(
            ini=rush.BENCH_INI, persons=packs, packs=packs, uses_rate=0, time_limit=300
        )
    )
    # An engine made as the committer's is (kariya.coupons.group_commit), from the app's settings.
    engine = get_engine({**setup.settings, "sqlalchemy.pool_size": "1"})
    factory = get_session_factory(engine)
    singles, rest = setup.person_ids[: args.single], setup.person_ids[args.single :]
    clock = Clock()

    def single_path():
        for person_id in singles:
            db = factory()
            acquisition.acquire(db, clock, person_id)
            db.commit()
            db.close()

    def write(chunk: list[int]) -> None:
        db = factory()
        now = dt.datetime.now(dt.UTC)
        answers = batch.acquire_many(db, [batch.Ask(p, now) for p in chunk], reserve=1)
        db.commit()
        db.close()
        if len(answers) != len(chunk):
            raise RuntimeError(f"a batch of {len(chunk)} acquired {len(answers)}")

    chunks = [rest[n : n + args.size] for n in range(0, batched, args.size)]
    for chunk in chunks[:WARM_UP]:
        write(chunk)
    counted = chunks[WARM_UP:]

    def batches():
        for chunk in counted:
            write(chunk)

    single_cpu, single_wall = timed(single_path)
    batch_cpu, batch_wall = timed(batches)
    acquired = sum(len(c) for c in counted)
    result = {
        "single_cpu_us": round(1e6 * single_cpu / len(singles)),
        "single_wall_ms": round(1e3 * single_wall / len(singles), 2),
        "batch_size": args.size,
        "batch_cpu_ms": round(1e3 * batch_cpu / len(counted), 2),
        "batch_wall_ms": round(1e3 * batch_wall / len(counted), 2),
        "batched_cpu_us": round(1e6 * batch_cpu / acquired),
    }
    print(
        f"single path: {result['single_cpu_us']} us of CPU an acquisition "
        f"(wall {result['single_wall_ms']} ms); batches of {args.size}: "
        f"{result['batch_cpu_ms']} ms of CPU a batch = {result['batched_cpu_us']} us an "
        f"acquisition (wall {result['batch_wall_ms']} ms a batch)",
        file=sys.stderr,
    )
    print(json.dumps(result))
    engine.dispose()
    setup.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
