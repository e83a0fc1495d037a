"""The secretariat lifts a staff account's login limit (issue 14): the way back for a person
locked out by failed logins, their own or a stranger's; and resets another person's second
factor (a lost phone). Every unlock and reset is recorded with a reason."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPFound
from pyramid.view import view_config

from kariya.errors import Conflict, Invalid
from kariya.roles import ROLE_LABELS
from kariya.security import P
from kariya.staff import second_factor, throttle
from views.staff_actions import note


def _page(request, error: str | None = None, reason: str = ""):
    settings = request.kariya_settings
    return {
        "locks": throttle.locked_accounts(request.db, settings, request.clock.now()),
        "unlocks": throttle.recent_unlocks(request.db),
        "role_labels": ROLE_LABELS,
        "window_minutes": settings.login.window_minutes,
        "error": error,
        "reason": reason,
    }


@view_config(
    route_name="secretariat.login_locks",
    renderer="secretariat/login_locks.jinja2",
    permission=P.SECRETARIAT_STAFF_UNLOCK,
    request_method="GET",
)
def login_locks(request):
    return _page(request)


@view_config(
    route_name="secretariat.login_unlock",
    renderer="secretariat/login_locks.jinja2",
    permission=P.SECRETARIAT_STAFF_UNLOCK,
    request_method="POST",
)
def login_unlock(request):
    username = request.POST.get("username", "")
    reason = request.POST.get("reason", "")
    note(request, record={"account": username.strip()})  # the account, never the reason
    try:
        throttle.unlock(request.db, request.clock, username, request.identity.actor, reason)
    except Invalid as exc:
        request.response.status = 422
        return _page(request, exc.message, reason)
    request.session.flash(f"{username} のログイン制限を解除しました。")
    return HTTPFound(request.route_url("secretariat.login_locks"))


# -- the second factor: the way back for a lost phone -------------------------------------------


def _factors_page(request, error: str | None = None, reason: str = ""):
    return {
        "accounts": second_factor.accounts(request.db, request.kariya_settings),
        "resets": second_factor.recent_resets(request.db),
        "role_labels": ROLE_LABELS,
        "me": request.identity.username,
        "error": error,
        "reason": reason,
    }


@view_config(
    route_name="secretariat.second_factors",
    renderer="secretariat/second_factors.jinja2",
    permission=P.SECRETARIAT_SECOND_FACTOR_RESET,
    request_method="GET",
)
def second_factors(request):
    return _factors_page(request)


@view_config(
    route_name="secretariat.second_factor_reset",
    renderer="secretariat/second_factors.jinja2",
    permission=P.SECRETARIAT_SECOND_FACTOR_RESET,
    request_method="POST",
)
def second_factor_reset(request):
    username = request.POST.get("username", "")
    reason = request.POST.get("reason", "")
    note(request, record={"account": username.strip()})  # the account, never the reason
    identity = request.identity
    try:
        second_factor.reset(
            request.db, request.clock, username, identity.username, identity.actor, reason
        )
    except (Invalid, Conflict) as exc:
        request.response.status = exc.status
        return _factors_page(request, exc.message, reason)
    request.session.flash(f"{username} の2段階認証をリセットしました。")
    return HTTPFound(request.route_url("secretariat.second_factors"))
