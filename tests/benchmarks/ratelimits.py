"""What a rate limit costs a call (views/ratelimits.py), measured here.

    .venv/bin/python -m tests.benchmarks.ratelimits [--calls 20000]

1. The counter alone: `RedisWindows.hit` (one EVALSHA round trip to the Redis at
   KARIYA_TEST_REDIS_URL, default redis://127.0.0.1:6379/15), on one key and on a new key per
   call (the rush: every resident a key of their own).
2. A whole counted call in-process (WSGI, no server): anonymous GET /api/v1/qr/x (counted by
   address, then 401) with the limits on and off, in alternating rounds so that the machine's
   load falls on both alike; the difference is the limiter's share.

Prints one JSON line. Needs only Redis (the 401 touches no database). Not part of the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import uuid

import redis
import webtest

from views.ratelimits import KEY_PREFIX, RedisWindows

REDIS_URL = os.environ.get("KARIYA_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def per_call_us(fn, calls: int) -> float:
    started = time.perf_counter()
    for n in range(calls):
        fn(n)
    return (time.perf_counter() - started) / calls * 1e6


def counter(calls: int) -> dict:
    client = redis.Redis.from_url(REDIS_URL)
    windows = RedisWindows(client)
    run = uuid.uuid4().hex[:8]
    windows.hit(f"{KEY_PREFIX}bench:{run}:warm", 60)
    one_key = per_call_us(lambda n: windows.hit(f"{KEY_PREFIX}bench:{run}:one", 60), calls)
    new_keys = per_call_us(lambda n: windows.hit(f"{KEY_PREFIX}bench:{run}:{n}", 60), calls)
    for key in client.scan_iter(match=f"{KEY_PREFIX}bench:{run}:*", count=5000):
        client.delete(key)
    return {"one_key_us": round(one_key, 1), "new_key_per_call_us": round(new_keys, 1)}


def app(limits: bool):
    from kariya import make_config

    settings = {
        "kariya.environment": "bench",
        "sqlalchemy.url": "postgresql+psycopg://postgres@127.0.0.1:5432/kariya_bench",
        "kariya.redis_url": REDIS_URL,
        "kariya.session_secret": "bench-only-session-secret-0123456789abcdef",
        "kariya.rate_limit.enabled": "true" if limits else "false",
        "kariya.rate_limit.per_address": "100000000",
    }
    return webtest.TestApp(
        make_config(settings).make_wsgi_app(), extra_environ={"REMOTE_ADDR": "203.0.113.1"}
    )


def requests(calls: int, rounds: int = 5) -> dict:
    on, off = app(True), app(False)
    each = max(1, calls // rounds)
    figures: dict[str, list[float]] = {"on": [], "off": []}
    for _ in range(rounds):
        for name, client in (("off", off), ("on", on)):
            figures[name].append(
                per_call_us(lambda n, c=client: c.get("/api/v1/qr/x", status=401), each)
            )
    median_on, median_off = statistics.median(figures["on"]), statistics.median(figures["off"])
    return {
        "calls_each": each * rounds,
        "with_limits_us": round(median_on, 1),
        "without_us": round(median_off, 1),
        "difference_us": round(median_on - median_off, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(
        json.dumps(
            {
                "load": round(load, 1),
                "counter": counter(args.calls),
                "request": requests(args.calls // 4),
            }
        )
    )


if __name__ == "__main__":
    main()
