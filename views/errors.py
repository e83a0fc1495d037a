"""One place turns errors into Japanese pages (HTML) or {"error", "message"} (API)."""

from __future__ import annotations

import logging

import redis
from pyramid.exceptions import BadCSRFOrigin, BadCSRFToken
from pyramid.httpexceptions import HTTPFound
from pyramid.renderers import render_to_response
from pyramid.view import exception_view_config, forbidden_view_config, notfound_view_config
from sqlalchemy.exc import InterfaceError, OperationalError

from kariya.audit import access
from kariya.errors import DomainError
from views.second_factor import pending_step_url, pending_user

log = logging.getLogger(__name__)


JSON_PREFIXES = ("/api/", "/dev/")
STAFF_PREFIXES = ("/secretariat", "/city", "/callcenter", "/store", "/staff", "/api")


def is_api(request) -> bool:
    """JSON callers get {"error", "message"}; people get a Japanese page."""
    return request.path.startswith(JSON_PREFIXES)


def is_staff_page(request) -> bool:
    """Staff portals and the API; every other page belongs to residents."""
    return any(request.path == p or request.path.startswith(p + "/") for p in STAFF_PREFIXES)


def error_response(request, status: int, code: str, message: str, title: str | None = None):
    request.response.status = status
    if is_api(request):
        response = request.response
        response.content_type = "application/json"
        response.json_body = {"error": code, "message": message}
        return response
    response = render_to_response(
        "errors/error.jinja2",
        {"status": status, "code": code, "message": message, "title": title or message},
        request=request,
    )
    response.status = status
    return response


def log_denied(request) -> None:
    """A member of staff refused: into the access log, in a transaction of its own (the
    refused request's own transaction is rolled back)."""
    identity = request.identity
    if identity is None or not identity.is_staff:
        return
    log.warning("staff refused", extra={"path": request.path, "role": identity.role})
    try:
        now = request.clock.now()
    except Exception:  # the database may be what failed
        return
    access.record_apart(
        request.registry["db.session_factory"],
        now,
        access.Viewer(identity.actor, identity.role, request.client_addr or ""),
        access.DENIED,
        detail=f"{request.method} {request.path}"[:300],
    )


@exception_view_config(DomainError)
def domain_error(exc, request):
    if exc.status == 403:
        log_denied(request)
    return error_response(request, exc.status, exc.code, exc.message)


@notfound_view_config()
def not_found(request):
    return error_response(
        request,
        404,
        "NOT_FOUND",
        "お探しのページは見つかりませんでした。",
        "ページが見つかりません",
    )


@exception_view_config(BadCSRFToken)
@exception_view_config(BadCSRFOrigin)
def bad_csrf(exc, request):
    log.warning("csrf check failed", extra={"path": request.path})
    return error_response(
        request,
        403,
        "CSRF",
        "この送信は受け付けられませんでした。画面の有効期限が切れたか、別のサイトからの送信です。"
        "お手数ですが、画面を開き直してもう一度お試しください。",
        "送信を受け付けられませんでした",
    )


@forbidden_view_config()
def forbidden(exc, request):
    if request.identity is None:
        if is_api(request):
            return error_response(request, 401, "UNAUTHENTICATED", "ログインしてください。")
        if not is_staff_page(request):  # residents log in through LINE and come back (P-1)
            return HTTPFound(
                request.route_url("resident.login_line", _query={"next": request.path_qs})
            )
        # Half logged in (the password, not yet the second factor): back to that step.
        pending = pending_user(request)
        if pending is not None:
            return HTTPFound(pending_step_url(request, pending))
        return HTTPFound(request.route_url("login", _query={"next": request.path_qs}))
    log.warning("forbidden", extra={"path": request.path, "role": request.identity.role})
    log_denied(request)
    return error_response(
        request, 403, "FORBIDDEN", "このページを表示する権限がありません。", "権限がありません"
    )


@exception_view_config(OperationalError)
@exception_view_config(InterfaceError)
@exception_view_config(redis.exceptions.ConnectionError)
@exception_view_config(redis.exceptions.TimeoutError)
def unavailable(exc, request):
    log.error("backing service unavailable", exc_info=exc)
    response = error_response(
        request,
        503,
        "UNAVAILABLE",
        "ただいま混み合っているか、システムを調整しています。少し時間をおいてお試しください。",
        "ただいま利用できません",
    )
    response.headers["Retry-After"] = "30"
    return response


@exception_view_config(Exception)
def server_error(exc, request):
    log.error("unhandled error", exc_info=exc)
    return error_response(
        request,
        500,
        "SERVER_ERROR",
        "申し訳ありません。システムでエラーが発生しました。時間をおいてもう一度お試しください。",
        "エラーが発生しました",
    )
