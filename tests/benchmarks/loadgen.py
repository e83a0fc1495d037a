"""Load generator of the weekly-rush benchmark; runs in its own process (see rush.py).

    python -m tests.benchmarks.loadgen < spec.json

Reads a JSON spec on stdin: base_url (only 127.0.0.1 is accepted), secret (the session secret of
the app's ini), redis_url (the app's session store), person_ids, concurrency, trivial_requests,
request_timeout, phase_timeout; for the stream of uses at stores (optional, tills.stream_spec):
uses_person_ids, uses (the plan: [index into uses_person_ids, store_token, coupons,
bill_amount] each), uses_rate (per second; 0 or absent: no stream), uses_base_url (default
base_url), uses_warmup_seconds, uses_alone_seconds (default 0).

1. Mints, without a login, one session per person exactly as kariya/security/sessions.py keeps
   them after a LINE login: a record in Redis (identity and CSRF token) and the signed cookie
   that carries its id.
2. Checks with one real request that a minted cookie is accepted (GET /api/v1/me: 200 and the
   same CSRF token back).
3. Sends one `POST /api/v1/acquisitions` per person, `concurrency` at a time (closed loop), and
   records each answer's status, error code and latency.
   Meanwhile, when asked, the stream of uses: residents at stores' tills, `POST
   /api/v1/redemptions {store_token, coupons, bill_amount}` with their own session cookie, CSRF
   token and a new Idempotency-Key each, sent in the plan's order in an OPEN loop at a fixed
   arrival rate (`uses_rate`), from a process of its own (spawned; its own event loop, aiohttp
   session and connector: a separate client, as a till is, so the herd's client cannot delay
   it). It starts when the acquisitions start and stops sending when their phase ends (the
   uses in flight then are awaited). Each use's latency runs from its scheduled send time, so a
   late send or a queue anywhere counts (no coordinated omission); `send_lag_p99_ms` says how
   late the client itself was. `exhausted`: the plan ran out before the phase ended. Before
   the herd, the plan's first uses at the same rate: for `uses_warmup_seconds` a warm-up (a
   fresh instance's first uses are slow; "uses_warmup"), then for `uses_alone_seconds` the
   baseline, the stream alone ("uses_alone").
4. Measures the trivial `GET /healthz/live` the same way as the acquisitions.

Prints one JSON object on stdout: {"verify": ..., "acquire": ..., "trivial": ...} and, with the
stream, "uses_verify", "uses_warmup", "uses_alone" and "uses".
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import math
import multiprocessing
import os
import secrets
import sys
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Sequence

import aiohttp
import redis

from kariya.security.sessions import COOKIE_NAME, CSRF_KEY, KEY_PREFIX, SessionFactory

RESIDENT = "resident"
SESSION_TTL = 3600  # longer than any run

ACQUIRE_PATH = "/api/v1/acquisitions"
USE_PATH = "/api/v1/redemptions"
CLIENT_NICE = -5  # the stream of uses' process (see uses_process)
TRIVIAL_PATH = "/healthz/live"
ME_PATH = "/api/v1/me"


class SessionMinter:
    """Writes residents' sessions the way kariya/security/sessions.py does at login: the record
    under its random id in Redis, and the cookie that carries the id, signed with the app's
    secret (the factory's own signer, so the two cannot drift apart)."""

    def __init__(self, secret: str, redis_url: str) -> None:
        self._signer = SessionFactory(
            None, secret, ttl=lambda state: SESSION_TTL, secure=False
        ).signer
        self._redis = redis.Redis.from_url(redis_url)

    def mint_all(
        self, person_ids: Sequence[int], now: float | None = None
    ) -> list[tuple[str, str]]:
        """A logged-in resident's (cookie value, CSRF token) for each person; the records are
        written in one pipeline."""
        now = time.time() if now is None else now
        sessions = []
        with self._redis.pipeline(transaction=False) as pipe:
            for person_id in person_ids:
                sid, token = secrets.token_urlsafe(32), secrets.token_hex(20)
                state = {"auth": {"role": RESIDENT, "id": person_id}, CSRF_KEY: token}
                record = json.dumps({"c": now, "a": now, "d": state}, separators=(",", ":"))
                pipe.set(KEY_PREFIX + sid, record, ex=SESSION_TTL)
                sessions.append((self._signer.dumps(sid).decode("ascii"), token))
            pipe.execute()
        return sessions


@dataclasses.dataclass(frozen=True)
class Call:
    """One request to send."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None = None


@dataclasses.dataclass
class Answer:
    """What came back: the HTTP status (0 when none), the error code, the latency."""

    status: int = 0
    code: str = ""
    ms: float = math.nan
    at: float = math.nan  # when it came, in seconds from the start of its phase

    @property
    def label(self) -> str:
        return f"{self.status} {self.code}".strip()


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (nan when empty)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def latency_figures(answers: list[Answer]) -> dict:
    """p50, p90, p99 and max latency (ms) of the answers that came back."""
    latencies = sorted(a.ms for a in answers if a.status and not math.isnan(a.ms))
    return {
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p90_ms": round(percentile(latencies, 0.90), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "max_ms": round(latencies[-1], 1) if latencies else math.nan,
    }


def summarize(answers: list[Answer], seconds: float, cpu_seconds: float) -> dict:
    """Counts by outcome, throughput over every request, latency percentiles (ms) overall and
    per outcome, when each outcome was last seen (s into the phase), and the share of one core
    this process used meanwhile."""
    by_label: dict[str, list[Answer]] = {}
    for answer in answers:
        by_label.setdefault(answer.label, []).append(answer)
    return {
        "requests": len(answers),
        "answered": sum(1 for a in answers if a.status),
        "seconds": round(seconds, 3),
        "rps": round(len(answers) / seconds, 1) if seconds > 0 else 0.0,
        "client_cpu": round(cpu_seconds / seconds, 2) if seconds > 0 else 0.0,
        **latency_figures(answers),
        "outcomes": dict(Counter(a.label for a in answers).most_common()),
        "by_outcome": {
            label: {
                **latency_figures(group),
                "last_at_s": round(
                    max((a.at for a in group if not math.isnan(a.at)), default=0), 2
                ),
            }
            for label, group in by_label.items()
        },
    }


async def send(
    http: aiohttp.ClientSession,
    base_url: str,
    call: Call,
    t0: float,
    scheduled: float | None = None,
) -> Answer:
    """Send one request; any failure becomes an Answer with status 0 and the error's name.
    `t0` is the start of the phase (perf_counter); the latency runs from `scheduled` when given
    (an open loop's due time), else from now."""
    started = time.perf_counter() if scheduled is None else scheduled
    try:
        async with http.request(
            call.method, base_url + call.path, headers=call.headers, data=call.body
        ) as resp:
            body = await resp.read()
            answer = Answer(status=resp.status)
            if resp.status >= 400:
                try:
                    answer.code = str(json.loads(body).get("error", ""))
                except (ValueError, AttributeError):
                    answer.code = "UNPARSED"
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        answer = Answer(code=type(exc).__name__)
    finished = time.perf_counter()
    answer.ms = (finished - started) * 1000
    answer.at = finished - t0
    return answer


async def run_phase(
    http: aiohttp.ClientSession,
    base_url: str,
    calls: list[Call],
    concurrency: int,
    phase_timeout: float,
) -> dict:
    """Send every call, `concurrency` in flight at a time; returns their summary. Calls not
    answered within `phase_timeout` are recorded as PHASE_TIMEOUT."""
    answers = [Answer(code="PHASE_TIMEOUT") for _ in calls]
    pending = iter(range(len(calls)))

    started, cpu_started = time.perf_counter(), time.process_time()

    async def lane() -> None:
        for i in pending:  # a shared iterator: each call is taken by exactly one lane
            answers[i] = await send(http, base_url, calls[i], started)

    lanes = [asyncio.ensure_future(lane()) for _ in range(min(concurrency, len(calls)))]
    _done, late = await asyncio.wait(lanes, timeout=phase_timeout)
    for task in late:
        task.cancel()
    if late:
        await asyncio.gather(*late, return_exceptions=True)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    return summarize(answers, seconds, cpu_seconds)


def use_calls(
    sessions: Sequence[Sequence[str]], plan: Sequence[Sequence]
) -> tuple[list[Call], list[int]]:
    """The plan's uses as calls (each with a new Idempotency-Key, as a phone sends), and the
    coupons each asks for."""
    calls, coupons = [], []
    for index, store_token, count, bill in plan:
        cookie, token = sessions[index]
        body = {"store_token": store_token, "coupons": count, "bill_amount": bill}
        headers = {
            "Cookie": f"{COOKIE_NAME}={cookie}",
            "X-CSRF-Token": token,
            "Content-Type": "application/json",
            "Idempotency-Key": secrets.token_hex(16),
        }
        calls.append(Call("POST", USE_PATH, headers, json.dumps(body).encode()))
        coupons.append(int(count))
    return calls, coupons


async def open_loop(
    http: aiohttp.ClientSession,
    base_url: str,
    calls: list[Call],
    coupons: list[int],
    rate: float,
    stop,
) -> dict:
    """Send `calls` in order, call i due i / rate s after the start, whatever the answers so
    far (an open loop), until `stop` (an Event) is set or the calls run out; then await those
    sent. Their summary, latencies from the due times, plus the coupons the 201s took."""
    started, cpu_started = time.perf_counter(), time.process_time()
    sent: list[asyncio.Future] = []
    lags: list[float] = []
    exhausted = True
    for i, call in enumerate(calls):
        due = started + i / rate
        if (delay := due - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        if stop.is_set():
            exhausted = False
            break
        lags.append((time.perf_counter() - due) * 1000)
        sent.append(asyncio.ensure_future(send(http, base_url, call, started, scheduled=due)))
    seconds = time.perf_counter() - started  # the stream's span: until it stopped sending
    answers = list(await asyncio.gather(*sent))
    summary = summarize(answers, seconds, time.process_time() - cpu_started)
    summary.update(
        rate=rate,
        planned=len(calls),
        exhausted=exhausted,
        coupons_ok=sum(n for a, n in zip(answers, coupons, strict=False) if a.status == 201),
        send_lag_p99_ms=round(percentile(sorted(lags), 0.99), 1),
    )
    return summary


def uses_process(spec: dict, conn, start, stop) -> None:
    """The stream's own process (spawned by UsesStream): sends the verification's result, waits
    for `start`, runs the open loop until `stop`, sends its summary. It asks for a higher CPU
    priority (CLIENT_NICE, where allowed): the tills are not on the server's 2 cores, so their
    client's own wait for a core should not count as the server's; what is left of it is
    reported (`send_lag_p99_ms`) and still counts in the latencies."""
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, CLIENT_NICE)
    result = asyncio.run(uses_client(spec, conn, start, stop))
    if result:
        result["client_nice"] = os.getpriority(os.PRIO_PROCESS, 0)
    conn.send(result)


async def uses_client(spec: dict, conn, start, stop) -> dict:
    base_url = spec["base_url"]
    calls, coupons = use_calls(spec["sessions"], spec["plan"])
    # An open loop: never queued in the client; a new connection a use, as from many phones
    # (and no reuse of a kept-alive connection the server has just closed).
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=spec["request_timeout"])
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
    ) as http:
        checked = await verify(http, base_url, *spec["sessions"][0])
        sent = 0
        for phase in ("warmup", "alone") if checked["ok"] else ():
            # A warm-up (a fresh instance's first uses are slow: first connections, lazy
            # imports), then the baseline: the same stream alone, before the herd arrives.
            n = int(spec.get(f"{phase}_seconds", 0) * spec["rate"])
            if n:
                part = slice(sent, sent + n)
                checked[phase] = await open_loop(
                    http, base_url, calls[part], coupons[part], spec["rate"], threading.Event()
                )
                del checked[phase]["exhausted"]  # by design
                sent += n
        conn.send(checked)
        if not checked["ok"]:
            return {}
        if not await asyncio.to_thread(start.wait, spec["start_timeout"]):
            return {}
        rest = slice(sent, None)
        orphaned = Orphaned(stop, spec["parent"])
        return await open_loop(http, base_url, calls[rest], coupons[rest], spec["rate"], orphaned)


class Orphaned:
    """`stop`, also set once the main process is gone (killed: the stream then stops too)."""

    def __init__(self, stop, parent: int) -> None:
        self._stop, self._parent = stop, parent

    def is_set(self) -> bool:
        return self._stop.is_set() or os.getppid() != self._parent


class UsesStream:
    """The stream of uses in a process of its own, as the main process sees it."""

    def __init__(self, spec: dict) -> None:
        context = multiprocessing.get_context("spawn")  # a fresh interpreter, no loop inherited
        self._conn, child = context.Pipe()
        self.start, self.stop = context.Event(), context.Event()
        spec = {**spec, "parent": os.getpid()}
        self._process = context.Process(
            target=uses_process, args=(spec, child, self.start, self.stop), daemon=True
        )
        self._process.start()
        child.close()

    def receive(self, timeout: float) -> dict:
        if not self._conn.poll(timeout):
            raise RuntimeError(f"the stream of uses sent nothing within {timeout:.0f} s")
        return self._conn.recv()

    def close(self) -> None:
        self.stop.set()
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


async def verify(http: aiohttp.ClientSession, base_url: str, cookie: str, token: str) -> dict:
    """One real request with a minted cookie: the app must know the resident and the token."""
    headers = {"Cookie": f"{COOKIE_NAME}={cookie}"}
    async with http.get(base_url + ME_PATH, headers=headers) as resp:
        status = resp.status
        body = await resp.json(content_type=None) if status == 200 else {}
    return {
        "status": status,
        "csrf_matches": body.get("csrf_token") == token,
        "ok": status == 200 and body.get("csrf_token") == token,
    }


def check_local(base_url: str) -> None:
    """The benchmark only ever talks to this machine."""
    host = urllib.parse.urlsplit(base_url).hostname
    if host != "127.0.0.1":
        raise SystemExit(f"refusing to send load to {host!r}: only 127.0.0.1 is allowed")


async def run(spec: dict) -> dict:
    """Verify a minted cookie, then run the acquisition phase (with the stream of uses beside it
    when asked) and the trivial phase."""
    base_url = spec["base_url"].rstrip("/")
    check_local(base_url)
    concurrency = int(spec.get("concurrency", 256))
    request_timeout = float(spec.get("request_timeout", 30))
    phase_timeout = float(spec.get("phase_timeout", 120))
    person_ids = [int(p) for p in spec["person_ids"]]
    uses_rate = float(spec.get("uses_rate", 0) or 0)

    minter = SessionMinter(spec["secret"], spec["redis_url"])
    now = time.time()
    sessions = minter.mint_all(person_ids, now)
    acquire_calls = [
        Call("POST", ACQUIRE_PATH, {"Cookie": f"{COOKIE_NAME}={cookie}", "X-CSRF-Token": token})
        for cookie, token in sessions
    ]
    trivial_calls = [Call("GET", TRIVIAL_PATH, {})] * int(spec.get("trivial_requests", 0))
    stream = None
    if uses_rate > 0 and spec.get("uses"):
        uses_url = (spec.get("uses_base_url") or base_url).rstrip("/")
        check_local(uses_url)
        stream = UsesStream(
            {
                "base_url": uses_url,
                "sessions": minter.mint_all([int(p) for p in spec["uses_person_ids"]], now),
                "plan": spec["uses"],
                "rate": uses_rate,
                "request_timeout": request_timeout,
                "start_timeout": 60.0,
                "warmup_seconds": float(spec.get("uses_warmup_seconds", 0)),
                "alone_seconds": float(spec.get("uses_alone_seconds", 0)),
            }
        )

    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    timeout = aiohttp.ClientTimeout(total=request_timeout)
    try:
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
        ) as http:
            result: dict = {}
            if stream is not None:  # verified, and its baseline run, before the herd
                before = sum(float(spec.get(f"uses_{p}_seconds", 0)) for p in ("warmup", "alone"))
                result["uses_verify"] = stream.receive(60 + before + request_timeout)
                result["uses_warmup"] = result["uses_verify"].pop("warmup", None)
                result["uses_alone"] = result["uses_verify"].pop("alone", None)
                if not result["uses_verify"]["ok"]:
                    return result
            # Right before the acquisitions: their first connection is the one verified, still
            # kept alive (gunicorn closes an idle one after 2 s).
            checked = result["verify"] = await verify(http, base_url, *sessions[0])
            if not checked["ok"]:
                return result
            if stream is not None:
                stream.start.set()
            result["acquire"] = await run_phase(
                http, base_url, acquire_calls, concurrency, phase_timeout
            )
            if stream is not None:
                stream.stop.set()
                result["uses"] = stream.receive(request_timeout + 30)
            if trivial_calls:
                result["trivial"] = await run_phase(
                    http, base_url, trivial_calls, concurrency, phase_timeout
                )
    finally:
        if stream is not None:
            stream.close()
    return result


def main() -> int:
    spec = json.load(sys.stdin)
    result = asyncio.run(run(spec))
    print(json.dumps(result))
    checks = (result.get("verify", {"ok": False}), result.get("uses_verify", {"ok": True}))
    return 0 if all(check["ok"] for check in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
