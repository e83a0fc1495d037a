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
from kariya.settings import settings_of
from views.errors import error_response

log = logging.getLogger(__name__)

KEY_PREFIX = "kariya:rate:"
SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))
LIMITER_KEY = "kariya.rate_limiter"

# INCR the window's counter; the first call of a window sets its expiry. Returns the count and
# the seconds left (a key left without expiry, which cannot happen here, gets one).
WINDOW_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}
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

    def hit(self, key: str, window: int) -> tuple[int, int]:
        count, ttl = self._script(keys=[key], args=[window])
        return int(count), int(ttl)


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
        if unsafe:
            return "resident", str(identity.id), rules.per_resident
        if qr:
            return "qr", str(identity.id), rules.qr_per_resident
        return None

    def check(self, request, route_name: str | None, *, signed_in: bool) -> None:
        found = self.rule_for(request, route_name, signed_in=signed_in)
        if found is None or found[2] <= 0:
            return
        rule, subject, limit = found
        try:
            count, ttl = self.windows.hit(
                f"{KEY_PREFIX}{rule}:{subject}", self.rules.window_seconds
            )
        except redis.exceptions.RedisError as exc:
            log.warning("rate limit not checked: %s", exc)  # let the call through
            return
        if count > limit:
            log.warning("rate limited", extra={"rule": rule, "path": request.path, "count": count})
            raise RateLimited(ttl)


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
    config.registry[LIMITER_KEY] = Limiter(settings.rate_limit, _windows(config.registry, settings))
    config.add_view_deriver(
        anonymous_calls, "rate_limit_anonymous", under=INGRESS, over="secured_view"
    )
    config.add_view_deriver(
        residents_calls, "rate_limit_residents", under="secured_view", over="csrf_view"
    )
