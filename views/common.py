"""Landing page, staff login and logout, the health checks."""

from __future__ import annotations

import redis
from pyramid.httpexceptions import HTTPFound
from pyramid.security import forget, remember
from pyramid.view import view_config
from sqlalchemy import text

from kariya import roles
from kariya.audit.access import Viewer
from kariya.security import Identity
from kariya.staff import accounts
from kariya.staff.accounts import LoginFailed, LoginThrottled
from views import second_factor
from views.staff_actions import note


def home_url(request, identity: Identity) -> str:
    return request.route_url(roles.HOME_ROUTES[identity.role])


def viewer(request) -> Viewer:
    """Who is looking, for the access log (kariya.audit.access)."""
    identity = request.identity
    return Viewer(actor=identity.actor, role=identity.role, address=request.client_addr or "")


def safe_next(request, default: str) -> str:
    target = request.params.get("next", "")
    # Only same-site paths: never an open redirect.
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return request.application_url + target
    return default


@view_config(route_name="home", renderer="common/landing.jinja2", request_method="GET")
def landing(request):
    if request.identity is not None:
        return HTTPFound(home_url(request, request.identity))
    return {}


@view_config(route_name="login", renderer="common/login.jinja2", request_method="GET")
def login_form(request):
    return {"username": "", "error": None, "next": request.params.get("next", "")}


@view_config(route_name="login", renderer="common/login.jinja2", request_method="POST")
def login(request):
    username = request.POST.get("username", "")
    try:
        user = accounts.authenticate(
            request.db,
            request.clock,
            request.kariya_settings,
            username,
            request.POST.get("password", ""),
            request.remote_addr or "-",  # the real client's (kariya.security.http)
        )
    except (LoginFailed, LoginThrottled) as exc:
        # The attempt is recorded and committed; the page says nothing of which part was wrong.
        note(request, record={"account": username.strip()}, outcome="refused", detail=exc.code)
        if isinstance(exc, LoginThrottled):
            request.response.status = 429
            request.response.headers["Retry-After"] = str(exc.retry_after)
            request.response.headers["X-Tm"] = "commit"  # pyramid_tm: keep the record (a 429)
        return {"username": username, "error": exc.message, "next": request.POST.get("next", "")}
    identity = Identity(role=user.role, id=user.id, username=user.username)
    target = safe_next(request, home_url(request, identity))
    note(request, record={"account": user.username}, actor=identity.actor, role=user.role)
    if user.needs_second_factor(request.kariya_settings.staff.require_totp):
        note(request, detail="SECOND_FACTOR_NEXT")  # the password was right; the code comes next
        return second_factor.begin(request, user, target)  # the code (or enrolment) comes next
    headers = remember(request, identity)
    return HTTPFound(target, headers=headers)


@view_config(route_name="logout", request_method="POST")
def logout(request):
    identity = request.identity  # who it was, before the session goes
    if identity is not None:
        note(request, actor=identity.actor, role=identity.role)
    headers = forget(request)
    return HTTPFound(request.route_url("home"), headers=headers)


@view_config(route_name="health.live", renderer="json", request_method="GET", require_csrf=False)
def live(request):
    """Trivial liveness answer: no database, no Redis (also the benchmark's baseline)."""
    return {"status": "ok"}


@view_config(route_name="health", renderer="json", request_method="GET")
def health(request):
    """Readiness for the load balancer: the database and Redis must both answer."""
    checks = {}
    try:
        with request.registry["db.engine"].connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # report, never raise: this page must always answer
        checks["database"] = f"error: {type(exc).__name__}"
    url = request.kariya_settings.redis_url
    if url:
        try:
            redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2).ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {type(exc).__name__}"
    else:
        checks["redis"] = "not configured"
    healthy = all(v in ("ok", "not configured") for v in checks.values())
    request.response.status = 200 if healthy else 503
    return {"status": "ok" if healthy else "unavailable", "checks": checks}
