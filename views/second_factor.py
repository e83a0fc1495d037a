"""The staff's second factor on the web (issue 14): the half login between the password and
the code, the login's second step (/login/code), and enrolment (/staff/second-factor).

After the right password, an account that needs a second factor gets a fresh session holding
only `pending_login` (who, their credential stamp, since when, where to go next): no `auth`,
so the security policy sees nobody and no staff page or staff API answers it. The second step,
or for an account that must enrol and has not, the enrolment, turns it into a staff session
(`remember(..., second_factor=True)`). A half login lasts PENDING_SECONDS.
"""

from __future__ import annotations

import hmac
import time

from pyramid.httpexceptions import HTTPForbidden, HTTPFound
from pyramid.security import remember
from pyramid.view import view_config

from kariya import roles
from kariya.errors import Conflict, Invalid
from kariya.security import Identity, credential_stamp
from kariya.staff import second_factor
from kariya.staff.accounts import LoginThrottled
from kariya.staff.models import StaffUser
from views.staff_actions import note

PENDING = "pending_login"
PENDING_SECONDS = 10 * 60
ENROL_SECRET = "totp_enrol"  # the secret being enrolled, sealed, until its first code


def begin(request, user: StaffUser, next_url: str) -> HTTPFound:
    """The password was right and the account needs a second factor: a half login."""
    request.session.invalidate()  # a fresh session id here too: no fixation
    request.session[PENDING] = {
        "id": user.id,
        "stamp": credential_stamp(request.kariya_settings, user),
        "at": time.time(),  # sessions live in real time (kariya.security.sessions)
        "next": next_url,
    }
    return HTTPFound(pending_step_url(request, user))


def pending_step_url(request, user: StaffUser) -> str:
    if user.has_second_factor:
        return request.route_url("login.code")
    return request.route_url("staff.second_factor")


def pending_user(request) -> StaffUser | None:
    """The account of this session's half login, while it is valid."""
    pending = request.session.get(PENDING)
    if not isinstance(pending, dict):
        return None
    user = request.db.get(StaffUser, pending.get("id"))
    fresh = time.time() - float(pending.get("at", 0)) <= PENDING_SECONDS
    if (
        user is None
        or not user.active
        or not fresh
        or not hmac.compare_digest(
            str(pending.get("stamp", "")), credential_stamp(request.kariya_settings, user)
        )
    ):
        request.session.pop(PENDING, None)
        return None
    return user


def _again(request) -> HTTPFound:
    note(request, outcome="refused", detail="LOGIN_EXPIRED")  # no half login (any more)
    request.session.flash("もう一度ユーザー名とパスワードでログインしてください。")
    return HTTPFound(request.route_url("login"))


def _noted(request, user: StaffUser) -> None:
    """Who the half login is, for the audit log of staff actions (it has no staff session)."""
    note(request, record={"account": user.username}, actor=f"staff:{user.username}", role=user.role)


def _complete(request, user: StaffUser) -> str:
    """The half login becomes a staff session; returns where to go next."""
    pending = request.session.get(PENDING) or {}
    target = pending.get("next") or request.route_url(roles.HOME_ROUTES[user.role])
    identity = Identity(role=user.role, id=user.id, username=user.username)
    remember(request, identity, second_factor=True)
    return target


# -- the second step ------------------------------------------------------------------------------


@view_config(route_name="login.code", renderer="common/login_code.jinja2", request_method="GET")
def code_form(request):
    user = pending_user(request)
    if user is None:
        return _again(request)
    if not user.has_second_factor:
        return HTTPFound(request.route_url("staff.second_factor"))
    return {"error": None}


@view_config(route_name="login.code", renderer="common/login_code.jinja2", request_method="POST")
def code_submit(request):
    user = pending_user(request)
    if user is None:
        return _again(request)
    if not user.has_second_factor:
        return HTTPFound(request.route_url("staff.second_factor"))
    _noted(request, user)
    try:
        second_factor.verify_login(
            request.db,
            request.kariya_settings,
            request.clock,
            user,
            request.POST.get("code", ""),
            request.remote_addr or "-",
            second_factor.authenticator_time(),
        )
    except LoginThrottled as exc:
        request.response.status = 429
        request.response.headers["Retry-After"] = str(exc.retry_after)
        request.response.headers["X-Tm"] = "commit"  # pyramid_tm: keep the record (a 429)
        return {"error": exc.message}
    except second_factor.CodeRefused as exc:
        note(request, outcome="refused", detail=exc.code)
        return {"error": exc.message}  # a 200: the attempt is recorded and committed
    return HTTPFound(_complete(request, user))


# -- enrolment ------------------------------------------------------------------------------------


def _enrolling(request) -> tuple[StaffUser | None, bool]:
    """(the account, whether this is a half login) of whoever may enrol here."""
    identity = request.identity
    if identity is not None:
        if not identity.is_staff:
            raise HTTPForbidden()
        return request.db.get(StaffUser, identity.id), False
    return pending_user(request), True


def _enrol_page(request, user: StaffUser, half: bool, error: str | None = None):
    request.response.cache_control = "no-store"  # a secret is on the page
    settings = request.kariya_settings
    if user.has_second_factor:
        return {
            "user": user,
            "half": half,
            "enrolment": None,
            "codes_left": second_factor.recovery_codes_left(request.db, user),
            "error": error,
        }
    sealed = request.session.get(ENROL_SECRET)
    secret = second_factor.unseal(settings, sealed) if sealed else None
    if secret is None:
        secret = second_factor.new_secret()
        request.session[ENROL_SECRET] = second_factor.seal(settings, secret)
    return {
        "user": user,
        "half": half,
        "required": user.needs_second_factor(settings.staff.require_totp),
        "enrolment": second_factor.enrolment(settings, user, secret),
        "error": error,
    }


@view_config(
    route_name="staff.second_factor",
    renderer="common/second_factor.jinja2",
    request_method="GET",
)
def enrol_form(request):
    user, half = _enrolling(request)
    if user is None:
        return HTTPFound(request.route_url("login", _query={"next": request.path}))
    if half and user.has_second_factor:
        return HTTPFound(request.route_url("login.code"))
    return _enrol_page(request, user, half)


@view_config(
    route_name="staff.second_factor",
    renderer="common/second_factor.jinja2",
    request_method="POST",
)
def enrol_submit(request):
    user, half = _enrolling(request)
    if user is None:
        return _again(request)
    _noted(request, user)
    settings = request.kariya_settings
    secret = second_factor.unseal(settings, request.session.get(ENROL_SECRET))
    if secret is None:  # the page expired, or was never shown in this session
        return HTTPFound(request.route_url("staff.second_factor"))
    try:
        codes = second_factor.enable(
            request.db,
            settings,
            request.clock,
            user,
            secret,
            request.POST.get("code", ""),
            second_factor.authenticator_time(),
        )
    except (Invalid, Conflict) as exc:
        request.response.status = exc.status
        return _enrol_page(request, user, half, exc.message)
    # The account's credential stamp changed: this session starts afresh, with the factor.
    target = _complete(request, user)
    request.response.cache_control = "no-store"
    return {"user": user, "recovery_codes": codes, "next": target}
