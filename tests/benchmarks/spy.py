"""py-spy on the benchmark's gunicorn workers: where a request's wall-clock time goes, split into
waiting on PostgreSQL (psycopg) and the rest (tests/benchmarks/rush.py --profile DIR).
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def profiled(pids: list[int], outdir: Path | None, rate: int) -> Iterator[list[Path]]:
    """py-spy records each pid (wall clock: idle included) for the block; yields the files of
    collapsed stacks it writes."""
    if outdir is None:
        yield []
        return
    outdir.mkdir(parents=True, exist_ok=True)
    spies, files = [], []
    for pid in pids:
        out = outdir / f"worker-{pid}.txt"
        spy = [Path(sys.executable).with_name("py-spy"), "record", "--pid", str(pid)]
        spy += ["--idle", "--nonblocking", "--rate", str(rate), "--format", "raw"]
        spy += ["--output", str(out)]
        with open(outdir / f"py-spy-{pid}.log", "wb") as log:
            spies.append(subprocess.Popen(spy, stdout=log, stderr=subprocess.STDOUT))
        files.append(out)
    time.sleep(1)  # let py-spy attach
    try:
        yield files
    finally:
        for spy in spies:
            if spy.poll() is None:
                spy.send_signal(signal.SIGINT)
        for spy in spies:
            try:
                spy.wait(timeout=30)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait()


# Where a sample of a request is attributed: the innermost frame that matches, leaf first.
PROFILE_PLACES = (
    ("_do_ping_w_event", "pool checkout: pre-ping SELECT 1"),
    ("Transaction._commitResources", "COMMIT (pyramid_tm)"),
    ("Transaction.abort", "ROLLBACK and session close (pyramid_tm)"),
    ("Response.write (gunicorn", "writing the response (gunicorn)"),
)
PROJECT_PACKAGES = ("kariya/", "views/", "workflows/", "tasks/")


def profile_place(frames: list[str]) -> str:
    """The innermost project function (or notable library step) of one sampled stack."""
    for frame in reversed(frames):
        for needle, place in PROFILE_PLACES:
            if needle in frame:
                return place
        name, _, where = frame.partition(" (")
        if where.startswith(PROJECT_PACKAGES) and not where.startswith("kariya/logs.py"):
            return f"{name} ({where.rpartition(':')[0]})"
    return "framework (gunicorn, pyramid, webob, request-id tween)"


def profile_breakdown(files: list[Path]) -> tuple[int, int, list[tuple[str, int, int]]]:
    """Reads py-spy's collapsed stacks (wall clock, idle included). Returns the samples of the
    workers, those inside a request, and per place: (place, samples waiting on PostgreSQL, i.e.
    in psycopg, other samples), busiest first."""
    total = in_requests = 0
    places: dict[str, list[int]] = {}
    for path in files:
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            samples = int(count)
            total += samples
            if ".handle_request (gunicorn/workers/" not in stack:
                continue  # waiting for a connection, closing one, or the gthread poller
            in_requests += samples
            frames = stack.split(";")
            row = places.setdefault(profile_place(frames), [0, 0])
            row[0 if frames[-1].partition(" (")[2].startswith("psycopg/") else 1] += samples
    ranked = sorted(places.items(), key=lambda item: -sum(item[1]))
    return total, in_requests, [(place, db, other) for place, (db, other) in ranked]


def print_profile(files: list[Path], outdir: Path) -> None:
    """The request time of the workers, by place, split into PostgreSQL wait and the rest."""
    total, in_requests, rows = profile_breakdown(files)
    if not in_requests:
        print("profile: no samples")
        return
    db = sum(r[1] for r in rows)
    print(
        f"profile (py-spy, wall clock, {outdir}): {in_requests / total:.0%} of the workers' "
        f"time in requests; of that {db / in_requests:.0%} in psycopg (waiting on PostgreSQL) "
        f"and {1 - db / in_requests:.0%} elsewhere (Python)"
    )
    print(f"  {'share':>6} {'psycopg':>8} {'other':>6}  place")
    for place, db_samples, other in rows[:18]:
        share = (db_samples + other) / in_requests
        if share >= 0.005:
            print(
                f"  {share:>6.1%} {db_samples / in_requests:>8.1%} "
                f"{other / in_requests:>6.1%}  {place}"
            )
