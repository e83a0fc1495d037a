"""Server-side sessions: the cookie carries only a signed random id, the state lives in Redis.

Logging out deletes the record, so a copy of the cookie taken before is worth nothing; a record
not used for its idle time expires (Redis' own TTL, and a check on load); what the session holds
(the CSRF token, a LINE login's PKCE verifier and nonce) is never sent to the browser.

Cost per request that carries a cookie: one Redis GET when the session is first read; a SET only
when the session changed or its idle clock needs pushing on (at most every `refresh` seconds).
`SessionFactory.load` is that read: the rate limits (views/ratelimits.py) replace it with one
that also counts a resident's call in the same round trip.
A request without a cookie touches Redis only if it writes something (a login form's CSRF token).

If Redis does not answer, a request that needs its session gets the 503 page (views/errors.py);
its error page renders with an empty session that is never saved.

Development without Redis (`kariya.redis_url` empty, `make run`) keeps the records in the
process (`MemoryStore`); production refuses to start without Redis.
"""

from __future__ import annotations

import json
import logging
import secrets
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import redis
from pyramid.interfaces import ISession
from webob.cookies import SignedSerializer
from zope.interface import implementer

log = logging.getLogger(__name__)

COOKIE_NAME = "kariya_session"
# The store's failures that make the app answer 503 (views/errors.py), not 500.
STORE_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
_DOWN_KEY = "kariya.session.store_down"
_LOST_KEY = "kariya.session.lost"
KEY_PREFIX = "kariya:session:"
CSRF_KEY = "_csrft_"


def _now() -> float:
    """Sessions live in real time (the campaign's settable clock is not theirs)."""
    return time.time()


class Store(Protocol):
    def load(self, sid: str) -> str | None: ...

    def save(self, sid: str, value: str, ttl: int, *, existing: bool) -> bool:
        """Write the record; with `existing`, only if it is still there (never bring back a
        session that a logout deleted meanwhile)."""

    def delete(self, sid: str) -> None: ...


class RedisStore:
    def __init__(self, client, prefix: str = KEY_PREFIX):
        self.client = client
        self.prefix = prefix

    def load(self, sid: str) -> str | None:
        raw = self.client.get(self.prefix + sid)
        return None if raw is None else raw.decode("utf-8")

    def save(self, sid: str, value: str, ttl: int, *, existing: bool) -> bool:
        if existing:
            return bool(self.client.set(self.prefix + sid, value, ex=max(ttl, 1), xx=True))
        return bool(self.client.set(self.prefix + sid, value, ex=max(ttl, 1), nx=True))

    def delete(self, sid: str) -> None:
        self.client.delete(self.prefix + sid)


class MemoryStore:
    """One process's records (development only: pserve is one process)."""

    def __init__(self):
        self._records: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def load(self, sid: str) -> str | None:
        with self._lock:
            found = self._records.get(sid)
            if found is None or found[0] < time.monotonic():
                self._records.pop(sid, None)
                return None
            return found[1]

    def save(self, sid: str, value: str, ttl: int, *, existing: bool) -> bool:
        with self._lock:
            found = self._records.get(sid)
            alive = found is not None and found[0] >= time.monotonic()
            if alive != existing:
                return False
            self._records[sid] = (time.monotonic() + ttl, value)
            return True

    def delete(self, sid: str) -> None:
        with self._lock:
            self._records.pop(sid, None)


class _IdSerializer:
    """The cookie's payload: the session id as ASCII bytes."""

    def dumps(self, value: str) -> bytes:
        return value.encode("ascii")

    def loads(self, value: bytes) -> str:
        try:
            return value.decode("ascii")
        except UnicodeDecodeError:
            raise ValueError("not a session id") from None


def _mutator(wrapped):
    def changed(session, *args, **kw):
        session.changed()
        return wrapped(session, *args, **kw)

    changed.__doc__ = wrapped.__doc__
    return changed


class SessionFactory:
    """Pyramid's session factory: `factory(request)` gives the request's session.

    `ttl(state)` says how many seconds of idleness the session may have (residents and staff
    differ); `refresh` is how stale the recorded last use may get before a request pushes it on.
    """

    def __init__(
        self,
        store: Store,
        secret: str,
        *,
        ttl: Callable[[dict], int],
        secure: bool,
        refresh: int = 300,
        cookie_name: str = COOKIE_NAME,
        lost: Callable | None = None,
    ):
        self.store = store
        self.ttl = ttl
        self.refresh = refresh
        self.secure = secure
        self.cookie_name = cookie_name
        # lost(request, response, exc_info): make the response say that a changed session
        # could not be saved (the app renders its 503 page into it).
        self.lost = lost
        self.signer = SignedSerializer(
            secret, "kariya.session.id", hashalg="sha512", serializer=_IdSerializer()
        )

    def load(self, request, sid: str) -> str | None:
        """The stored record of `sid`, or None. Replaceable: the rate limits read it together
        with their count (views/ratelimits.py)."""
        return self.store.load(sid)

    def __call__(self, request) -> ServerSession:
        try:
            return ServerSession(request, self)
        except STORE_DOWN:
            if request.environ.get(_DOWN_KEY):
                # The error page of this very request (503): an empty session, never saved.
                return ServerSession(request, self, offline=True)
            request.environ[_DOWN_KEY] = True
            raise

    def read_id(self, request) -> str | None:
        value = request.cookies.get(self.cookie_name)
        if not value:
            return None
        try:
            return self.signer.loads(value.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            return None

    def set_cookie(self, response, sid: str | None) -> None:
        if sid is None:
            response.delete_cookie(self.cookie_name, path="/")
            return
        response.set_cookie(
            self.cookie_name,
            value=self.signer.dumps(sid).decode("ascii"),
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="Lax",
        )


@implementer(ISession)
class ServerSession(dict):
    """A dict kept in the store under a random id; Pyramid's ISession (flash, CSRF) on top."""

    def __init__(self, request, factory: SessionFactory, *, offline: bool = False):
        self._factory = factory
        self._dirty = False
        self._dropped: list[str] = []
        self._had_cookie = False
        now = _now()
        state: dict[str, Any] = {}
        self.created = self.accessed = now
        self.new = True
        self.sid: str | None = None
        sid = None if offline else factory.read_id(request)
        if sid is not None:
            self._had_cookie = True
            record = _parse(factory.load(request, sid))
            if record is not None and now - record["a"] <= factory.ttl(record["d"]):
                state = record["d"]
                self.created, self.accessed = record["c"], record["a"]
                self.new = False
                self.sid = sid
            elif record is not None:
                self._dropped.append(sid)  # idle too long: gone for good
        dict.__init__(self, state)
        if not offline:
            request.add_response_callback(self._finish)

    # -- ISession ----------------------------------------------------------------------------
    def changed(self) -> None:
        self._dirty = True

    def invalidate(self) -> None:
        """Forget this session for good: its record is deleted, the next write gets a new id."""
        if self.sid is not None:
            self._dropped.append(self.sid)
        self.sid = None
        dict.clear(self)
        self.new = True
        self.created = _now()
        self._dirty = True

    clear = _mutator(dict.clear)
    update = _mutator(dict.update)
    setdefault = _mutator(dict.setdefault)
    pop = _mutator(dict.pop)
    popitem = _mutator(dict.popitem)
    __setitem__ = _mutator(dict.__setitem__)
    __delitem__ = _mutator(dict.__delitem__)

    @_mutator
    def flash(self, msg, queue: str = "", allow_duplicate: bool = True) -> None:
        storage = dict.setdefault(self, "_f_" + queue, [])
        if allow_duplicate or msg not in storage:
            storage.append(msg)

    def pop_flash(self, queue: str = "") -> list:
        if "_f_" + queue not in self:
            return []  # nothing to pop: no write
        return self.pop("_f_" + queue, [])

    def peek_flash(self, queue: str = "") -> list:
        return self.get("_f_" + queue, [])

    @_mutator
    def new_csrf_token(self) -> str:
        token = secrets.token_hex(20)
        dict.__setitem__(self, CSRF_KEY, token)
        return token

    def get_csrf_token(self) -> str:
        token = self.get(CSRF_KEY)
        return token if token is not None else self.new_csrf_token()

    # -- persistence -------------------------------------------------------------------------
    def _finish(self, request, response) -> None:
        try:
            self._save(response)
        except STORE_DOWN:
            log.error("session not saved: the session store is unavailable", exc_info=True)
            lost = self._factory.lost
            if self._dirty and lost is not None and not request.environ.get(_LOST_KEY):
                # What the request did to the session (a login, a logout, a LINE login's
                # verifier) is lost: the answer says so (503) instead of that it worked. An
                # unchanged session whose idle clock was not pushed on costs nothing: the
                # answer still goes.
                request.environ[_LOST_KEY] = True
                lost(request, response, sys.exc_info())

    def _save(self, response) -> None:
        store, factory = self._factory.store, self._factory
        for sid in self._dropped:
            store.delete(sid)
        now = _now()
        if self._dirty and not dict.__len__(self):
            # Emptied (logged out): nothing to keep; the browser forgets its cookie.
            if self._had_cookie or self.sid is not None:
                if self.sid is not None:
                    store.delete(self.sid)
                factory.set_cookie(response, None)
            return
        if not self._dirty and (self.sid is None or now - self.accessed < factory.refresh):
            if self.sid is None and self._had_cookie:
                factory.set_cookie(response, None)  # a dead cookie: drop it
            return
        issue = self.sid is None
        if issue:
            self.sid = secrets.token_urlsafe(32)
        record = {"c": self.created, "a": now, "d": dict(self)}
        value = json.dumps(record, separators=(",", ":"))
        if store.save(self.sid, value, factory.ttl(record["d"]), existing=not issue):
            if issue:
                factory.set_cookie(response, self.sid)
        elif not issue:
            factory.set_cookie(response, None)  # logged out meanwhile: stays logged out


def _parse(raw: str | None) -> dict | None:
    if raw is None:
        return None
    try:
        record = json.loads(raw)
        if isinstance(record.get("d"), dict) and isinstance(record.get("a"), int | float):
            return record
    except (ValueError, AttributeError):
        pass
    return None
