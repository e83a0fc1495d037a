"""Residents' phones over real HTTP for the fault tests: each logs in (LINE simulator), acquires
the round's pack and uses coupons at a store, each call with its Idempotency-Key, retrying as a
phone's app would while the service answers 503 or the connection fails. Every answer is kept,
so that the test can say what residents saw during the fault."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import http.cookiejar
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

RETRY_PAUSE = 0.2  # seconds between a phone's retries after a 503 or a failed connection
AGAIN = (None, 429, 503)  # answers after which a phone's app tries again
UNAVAILABLE = "UNAVAILABLE"


@dataclasses.dataclass(frozen=True)
class Answer:
    at: float  # time.monotonic() when the answer came
    phone: int
    step: str
    status: int | None  # None: no HTTP answer at all (the connection failed)
    body: dict | None
    text: str
    retry_after: str | None = None

    @property
    def code(self) -> str | None:
        return self.body.get("error") if isinstance(self.body, dict) else None


class Log:
    def __init__(self):
        self.answers: list[Answer] = []
        self._lock = threading.Lock()

    def add(self, answer: Answer) -> None:
        with self._lock:
            self.answers.append(answer)

    def count(self, step: str, status: int) -> int:
        with self._lock:
            return sum(1 for a in self.answers if a.step == step and a.status == status)

    def of(self, *, status=None, after: float = 0.0) -> list[Answer]:
        with self._lock:
            return [
                a for a in self.answers if a.at >= after and (status is None or a.status == status)
            ]


def pause(answer: Answer) -> float:
    """How long a phone waits before trying again: a moment, or what a 429 asks (at most 2 s,
    so that a test stays short)."""
    if answer.status == 429 and (answer.retry_after or "").isdigit():
        return min(max(int(answer.retry_after), RETRY_PAUSE), 2.0)
    return RETRY_PAUSE


class Phone:
    """A resident's phone: its own cookie jar and CSRF token."""

    def __init__(self, base: str, number: int, line_user_id: str, log: Log):
        self.base, self.number, self.line_user_id, self.log = base, number, line_user_id, log
        self.token: str | None = None
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        self.results: dict[str, Answer] = {}  # the final answer of each step
        self.logins = 0

    def call(self, step: str, method: str, path: str, body=None, headers=None) -> Answer:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        status, text, retry_after = None, "", None
        try:
            with self.opener.open(request, timeout=30) as response:
                status, text = response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as err:
            status, text = err.code, err.read().decode("utf-8", "replace")
            retry_after = err.headers.get("Retry-After")
        except (urllib.error.URLError, OSError) as err:
            text = repr(err)
        try:
            parsed = json.loads(text) if status is not None else None
        except ValueError:
            parsed = None
        answer = Answer(time.monotonic(), self.number, step, status, parsed, text, retry_after)
        self.log.add(answer)
        return answer

    def login(self, deadline: float) -> bool:
        while time.monotonic() < deadline:
            self.logins += 1
            self.call("login", "POST", "/dev/line-login", {"line_user_id": self.line_user_id})
            me = self.call("me", "GET", "/api/v1/me")
            if me.status == 200:
                self.token = me.body["csrf_token"]
                return True
            time.sleep(pause(me))
        return False

    def until_done(self, step: str, method: str, path: str, deadline: float, body=None) -> Answer:
        """Call until an answer other than 503 or a failed connection (a 401: the session was
        lost, log in again and go on); the final answer is kept in `results`."""
        while True:
            answer = self.call(
                step,
                method,
                path,
                body,
                {"X-CSRF-Token": self.token or "", "Idempotency-Key": f"{step}-{self.number}"},
            )
            if answer.status == 401 and time.monotonic() < deadline:
                self.login(deadline)
                continue
            if answer.status in AGAIN and time.monotonic() < deadline:
                time.sleep(pause(answer))
                continue
            self.results[step] = answer
            return answer

    def journey(self, store_token: str, deadline: float) -> None:
        """Log in, acquire the pack, use 1 or 2 coupons (by the phone's number) at the store."""
        if not self.login(deadline):
            return
        if self.until_done("acquire", "POST", "/api/v1/acquisitions", deadline).status != 201:
            return
        coupons = 1 + self.number % 2
        body = {"store_token": store_token, "coupons": coupons, "bill_amount": 3000}
        self.until_done("use", "POST", "/api/v1/redemptions", deadline, body)


def run(phones: list[Phone], store_token: str, seconds: float, threads: int = 12) -> None:
    """Every phone's journey, `threads` at a time; returns when all are done (or out of time)."""
    deadline = time.monotonic() + seconds
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(p.journey, store_token, deadline) for p in phones]:
            future.result()


class _KeepRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 302 is an answer of its own (its Location names the public URL)


class Staff:
    """A member of staff's browser: the login form, then forms with the page's CSRF token."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _KeepRedirects()
        )

    def open(self, path: str, fields: dict | None = None) -> tuple[int, str]:
        data = urllib.parse.urlencode(fields).encode() if fields is not None else None
        try:
            with self.opener.open(self.base + path, data=data, timeout=30) as response:
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode("utf-8", "replace")

    def csrf(self, path: str) -> str:
        status, page = self.open(path)
        assert status == 200, (path, status, page[:500])
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    def login(self, username: str, password: str) -> None:
        fields = {"username": username, "password": password, "csrf_token": self.csrf("/login")}
        status, page = self.open("/login", fields)
        assert status == 302, (status, page[:500])

    def submit(self, page: str, action: str, **fields) -> int:
        return self.open(action, {**fields, "csrf_token": self.csrf(page)})[0]
