"""Rate limits (issue 14, defect 8; DESIGN 5.1): too many calls answer 429 `RATE_LIMITED` with a
Japanese message and `Retry-After`, JSON under /api, a Japanese page elsewhere.

The rules and numbers are settings (`kariya.rate_limit.*`, kariya/settings.py `RateLimit`):

- a logged-in resident: `per_resident` unsafe calls (POST, PUT, PATCH, DELETE; 30) and
  `qr_per_resident` QR look-ups (60) per window (60 s), whatever the address;
- a call without a login (the staff login, the LINE login and its callback, QR look-ups and
  guesses, any unsafe call): `per_address` (600) per window and client address (IPv6: its
  /64), the address that kariya/security/http.py derives behind our trusted proxies, never a
  raw X-Forwarded-For. Residents share carrier NAT and every load test comes from one address,
  so an address is never counted once there is a login;
- staff are not limited here (a busy till, the call centre; the staff login has its own limits).

So the Monday rush (20,000 residents from one address, one acquisition each) and a busy till are
never limited. A safe call that no rule names (the finder, the wallet, /healthz/live) costs
nothing: no session read, no Redis.

The window is fixed and starts at a subject's first call: one atomic Redis round trip (a Lua
script: INCR, EXPIRE on the first call, TTL) counts the call and says when the window ends,
which is the Retry-After. A refused call is counted too (a guesser does not get a free window).
A resident's call pays no round trip of its own (issue 16): a call that the resident's rule
would count reads its session with the count in one script (`SessionWindows`: GET the record,
and if it is a resident's, count that resident's window), and the rule below takes that count.
A call counted so that the rule never reaches (refused 403 first, or an idle session) is given
back at the end of the request. The script derives the window's key from the record, which a
single Redis allows (a Redis Cluster would not).
If Redis does not answer, the call is let through and logged: the limits protect, they are not
the record of anything. Without Redis (`make run`), one process's memory keeps the windows.

Two view derivers: calls without a login are counted above the permission check, so an
anonymous guess is counted before it is refused 401; a resident's calls below it (what a
resident may not do at all is refused 403 for nothing, and does not use up the window) and above
the CSRF check. A refused call writes nothing (its transaction aborts like every 4xx).
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time

import redis
from pyramid.view import exception_view_config
from pyramid.viewderivers import INGRESS

from kariya import roles
from kariya.errors import DomainError
from kariya.rate_limit import RateLimit
from kariya.security import SESSION_FACTORY_KEY
from kariya.security.sessions import STORE_DOWN, RedisStore
from kariya.settings import settings_of
from views.errors import error_response

log = logging.getLogger(__name__)

KEY_PREFIX = "kariya:rate:"
SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))
LIMITER_KEY = "kariya.rate_limiter"

COUNTED_KEY = "kariya.rate.counted"

# INCR the window's counter `key`; the first call of a window sets its expiry (`window`
# seconds). Leaves the count and the seconds left (a key left without expiry, which cannot
# happen here, gets one).
_COUNT = """
local count = redis.call('INCR', key)
if count == 1 then redis.call('EXPIRE', key, window) end
local ttl = redis.call('TTL', key)
if ttl < 0 then redis.call('EXPIRE', key, window); ttl = tonumber(window) end
"""
WINDOW_SCRIPT = "local key, window = KEYS[1], ARGV[1]" + _COUNT + "return {count, ttl}"

# The session record KEYS[1], and if it is a resident's (role ARGV[1]), that resident's window
# (key ARGV[2] .. id, ARGV[3] seconds) counted: {} (no record), {record} (not counted) or
# {record, count, ttl, key}. What the record holds is kariya/security/sessions.py's.
SESSION_WINDOW_SCRIPT = (
    """
local raw = redis.call('GET', KEYS[1])
if not raw then return {} end
local ok, record = pcall(cjson.decode, raw)
if not ok or type(record) ~= 'table' or type(record.d) ~= 'table' then return {raw} end
local auth = record.d.auth
if type(auth) ~= 'table' or auth.role ~= ARGV[1] or type(auth.id) ~= 'number' then
  return {raw}
end
local key, window = ARGV[2] .. string.format('%d', auth.id), ARGV[3]
"""
    + _COUNT
    + "return {raw, count, ttl, key}"
)

# Give a call back to its window (a counted call the rule never reached); never below zero,
# and never bring back a window that ended.
GIVE_BACK_SCRIPT = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 then redis.call('DECR', KEYS[1]) end
"""


class RateLimited(DomainError):
    code = "RATE_LIMITED"
    status = 429
    message = "短い時間に操作が集中しています。しばらく待ってからもう一度お試しください。"

    def __init__(self, retry_after: int):
        self.retry_after = seconds = max(1, retry_after)
        wait = f"{seconds}秒" if seconds < 60 else f"{-(-seconds // 60)}分"
        super().__init__(
            f"短い時間に操作が集中しています。{wait}ほど待ってからもう一度お試しください。"
        )


class RedisWindows:
    """Fixed windows in Redis: one EVALSHA round trip per counted call."""

    def __init__(self, client: redis.Redis):
        self.client = client
        self._script = client.register_script(WINDOW_SCRIPT)
        self._give_back = client.register_script(GIVE_BACK_SCRIPT)

    def hit(self, key: str, window: int) -> tuple[int, int]:
        count, ttl = self._script(keys=[key], args=[window])
        return int(count), int(ttl)

    def give_back(self, key: str) -> None:
        self._give_back(keys=[key])


class MemoryWindows:
    """One process's windows (development without Redis: pserve is one process)."""

    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, window: int) -> tuple[int, int]:
        now = time.monotonic()
        with self._lock:
            if len(self._windows) > 100_000:  # forget windows that ended
                self._windows = {k: v for k, v in self._windows.items() if v[0] > now}
            ends, count = self._windows.get(key, (0.0, 0))
            if ends <= now:
                ends, count = now + window, 0
            self._windows[key] = (ends, count + 1)
            return count + 1, max(1, round(ends - now))


def subject_address(address: str) -> str:
    """The address a limit counts: IPv4 as it is, IPv6 by its /64 (one subscriber's)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64] or "-"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False).network_address) + "/64"
    return str(ip)


class Limiter:
    def __init__(self, rules: RateLimit, windows):
        self.rules = rules
        self.windows = windows
        self.qr_routes = frozenset(rules.qr_routes)
        self.anonymous_routes = frozenset(rules.anonymous_routes)

    def residents_rule(self, method: str, route_name: str | None) -> tuple[str, int] | None:
        """(rule, limit) that counts a resident's call of this kind, or None."""
        if method not in SAFE_METHODS:
            return "resident", self.rules.per_resident
        if route_name in self.qr_routes:
            return "qr", self.rules.qr_per_resident
        return None

    def rule_for(
        self, request, route_name: str | None, *, signed_in: bool
    ) -> tuple[str, str, int] | None:
        """(rule, subject, limit) that counts this call, or None: the address's rule for a
        call without a login (`signed_in` False), the resident's for a resident's call.
        Reads the session only for a call some rule may count."""
        unsafe = request.method not in SAFE_METHODS
        qr = route_name in self.qr_routes
        if not unsafe and not qr and route_name not in self.anonymous_routes:
            return None
        identity = request.identity
        rules = self.rules
        if not signed_in:
            if identity is not None:
                return None
            return "address", subject_address(request.remote_addr or "-"), rules.per_address
        if identity is None or identity.role != roles.RESIDENT:
            return None
        found = self.residents_rule(request.method, route_name)
        return None if found is None else (found[0], str(identity.id), found[1])

    def check(self, request, route_name: str | None, *, signed_in: bool) -> None:
        found = self.rule_for(request, route_name, signed_in=signed_in)
        if found is None or found[2] <= 0:
            return
        rule, subject, limit = found
        key = f"{KEY_PREFIX}{rule}:{subject}"
        counted = request.environ.get(COUNTED_KEY)
        if counted is not None and counted.key == key and not counted.taken:
            counted.taken = True  # counted as the session was read (SessionWindows)
            count, ttl = counted.count, counted.ttl
        else:
            try:
                count, ttl = self.windows.hit(key, self.rules.window_seconds)
            except redis.exceptions.RedisError as exc:
                log.warning("rate limit not checked: %s", exc)  # let the call through
                return
        if count > limit:
            log.warning("rate limited", extra={"rule": rule, "path": request.path, "count": count})
            raise RateLimited(ttl)


class _Counted:
    """A resident's call counted as its session was read; `taken` once the rule used it."""

    __slots__ = ("key", "count", "ttl", "taken")

    def __init__(self, key: str, count: int, ttl: int):
        self.key, self.count, self.ttl, self.taken = key, count, ttl, False


class SessionWindows:
    """The session factory's read (kariya.security.sessions.SessionFactory.load) for Redis: a
    call that the resident's rule would count reads the record and counts the resident's window
    in one script, so a resident's call costs one round trip, not two (issue 16: every blocking
    call costs a threaded worker about 150 us of CPU under the rush). Other calls, and every
    call when the script fails for any reason but a lost Redis, read the record alone."""

    def __init__(self, limiter: Limiter, store, windows: RedisWindows):
        self.limiter = limiter
        self.store = store
        self.windows = windows
        self._script = windows.client.register_script(SESSION_WINDOW_SCRIPT)

    def __call__(self, request, sid: str) -> str | None:
        route = request.matched_route
        found = self.limiter.residents_rule(request.method, route.name) if route else None
        if found is None or found[1] <= 0:
            return self.store.load(sid)
        prefix = f"{KEY_PREFIX}{found[0]}:"
        window = self.limiter.rules.window_seconds
        try:
            reply = self._script(
                keys=[self.store.prefix + sid], args=[roles.RESIDENT, prefix, window]
            )
        except STORE_DOWN:
            raise  # the session's own failure: the 503 page
        except redis.exceptions.RedisError as exc:
            log.warning("session read without its rate count: %s", exc)
            return self.store.load(sid)
        if not reply:
            return None
        if len(reply) == 4:
            counted = _Counted(reply[3].decode("utf-8"), int(reply[1]), int(reply[2]))
            request.environ[COUNTED_KEY] = counted
            request.add_finished_callback(lambda request: self._give_back_unused(counted))
        return reply[0].decode("utf-8")

    def _give_back_unused(self, counted: _Counted) -> None:
        if counted.taken:
            return
        try:
            self.windows.give_back(counted.key)
        except redis.exceptions.RedisError as exc:
            log.warning("rate count not given back: %s", exc)


def limiter_of(registry) -> Limiter:
    return registry[LIMITER_KEY]


def _deriver(signed_in: bool):
    def derive(view, info):
        if info.exception_only:
            return view
        route_name = info.options.get("route_name")
        limiter = limiter_of(info.registry)

        def counted(context, request):
            if request.exception is None:
                limiter.check(request, route_name, signed_in=signed_in)
            return view(context, request)

        return counted

    return derive


# Calls without a login are counted before the permission check (a guess that will be refused
# 401 is counted); a resident's after it and before the CSRF check (what a resident may not do
# at all is refused 403 for nothing; a call without its token is counted).
anonymous_calls = _deriver(signed_in=False)
residents_calls = _deriver(signed_in=True)


@exception_view_config(RateLimited)
def rate_limited(exc, request):
    response = error_response(request, exc.status, exc.code, exc.message, "しばらくお待ちください")
    response.headers["Retry-After"] = str(exc.retry_after)
    response.cache_control = "no-store"
    return response


def _windows(registry, settings):
    store = registry.get("kariya.session_store")
    client = getattr(store, "client", None)  # the sessions' Redis (kariya.security)
    if client is None and settings.redis_url:
        client = redis.Redis.from_url(
            settings.redis_url, socket_timeout=2, socket_connect_timeout=2
        )
    return RedisWindows(client) if client is not None else MemoryWindows()


def includeme(config):
    settings = settings_of(config.registry)
    if not settings.rate_limit.enabled:
        return
    windows = _windows(config.registry, settings)
    limiter = config.registry[LIMITER_KEY] = Limiter(settings.rate_limit, windows)
    store = config.registry.get("kariya.session_store")
    factory = config.registry.get(SESSION_FACTORY_KEY)
    same_redis = isinstance(store, RedisStore) and getattr(windows, "client", None) is store.client
    if same_redis and factory is not None:
        factory.load = SessionWindows(limiter, store, windows)
    config.add_view_deriver(
        anonymous_calls, "rate_limit_anonymous", under=INGRESS, over="secured_view"
    )
    config.add_view_deriver(
        residents_calls, "rate_limit_residents", under="secured_view", over="csrf_view"
    )
