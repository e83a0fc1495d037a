"""The request hook of the audit log of staff actions (kariya.audit.actions), one tween.

It sits under pyramid_tm and over the exception views: inside the request's transaction, and
seeing the answer the client gets, error pages included. For a POST, PUT, PATCH or DELETE of a
staff session (and every login attempt), after the view:
- the transaction will commit (not doomed, not vetoed by pyramid_tm's commit veto): the entry is
  written into it, linked to the transition records it wrote; should the commit still fail, an
  after-commit hook writes the entry apart as `aborted`;
- else (a refusal, an error, a doomed transaction): the entry is written apart, in a short
  transaction of its own once the request's has been rolled back (an after-abort hook), unless
  pyramid_retry is about to try the request again (the next attempt writes it).
Who: the identity the view's permission gate loaded (never loaded here). The address: the one
kariya.security.http derived (REMOTE_ADDR, from our proxies only). A view adds what its route
does not say with `note` (the account a login or an unlock named, who logged out).
"""

from __future__ import annotations

import dataclasses
import logging
import sys

from pyramid.exceptions import BadCSRFOrigin, BadCSRFToken
from pyramid.httpexceptions import HTTPForbidden
from pyramid.path import DottedNameResolver
from pyramid.tweens import EXCVIEW
from pyramid_retry import is_error_retryable, is_last_attempt

from kariya.audit import actions
from kariya.audit.action_labels import is_action
from kariya.settings import settings_of
from workflows.binding import written

log = logging.getLogger(__name__)

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Recorded without a staff session too: the password, and the half login's second step.
SIGN_IN = frozenset({"login", "login.code", "staff.second_factor"})
NOTE = "_staff_action_note"  # on the request: a retried request starts without it


def note(request, *, record: dict | None = None, **fields) -> None:
    """What the view knows and the route does not: more of the `record` (`{"account": "city"}`),
    or the `actor`, `role`, `outcome` or `detail` of the entry. Never a password or a body."""
    noted = request.__dict__.setdefault(NOTE, {})
    noted.setdefault("record", {}).update(record or {})
    noted.update(fields)


def _action_of(request) -> str:
    route = request.matched_route
    if route is None:
        return ""
    sub = request.matchdict.get("action") if "{action" in route.pattern else None
    return f"{route.name}.{sub}" if sub else route.name


def _seen(request):
    """Who the view's permission gate saw (kariya.security reifies it as `identity_cache`),
    never loaded here: no session read of our own, so a Redis that hangs costs no second wait.
    A view without a gate that acts for someone says so with `note` (login, logout)."""
    return request.__dict__.get("identity_cache")


def _code(exc) -> str:
    """The error code the refusal answered (BAD_TRANSITION, SAME_PERSON, FORBIDDEN, CSRF ...)."""
    if isinstance(exc, (BadCSRFToken, BadCSRFOrigin)):
        return "CSRF"
    if isinstance(exc, HTTPForbidden):
        return "FORBIDDEN"
    code = getattr(exc, "code", None)  # a DomainError's; an HTTPException's is a number
    return code if isinstance(code, str) else ""


def _entry(request, identity, response, action: str, committed: bool) -> actions.Entry:
    noted = request.__dict__.get(NOTE, {})
    matched = {k: v for k, v in (request.matchdict or {}).items() if k != "action"}
    status = response.status_int
    return actions.Entry(
        actor=noted.get("actor", identity.actor if identity else ""),
        role=noted.get("role", identity.role if identity else ""),
        address=request.remote_addr or "",
        action=action,
        method=request.method,
        record=actions.record_words({**matched, **noted.get("record", {})}),
        status=status,
        outcome=noted.get("outcome") or actions.outcome_of(status, committed),
        detail=noted.get("detail") or _code(getattr(request, "exception", None)),
    )


def staff_actions_tween_factory(handler, registry):
    session_factory = registry["db.session_factory"]
    settings = settings_of(registry)
    veto = DottedNameResolver().maybe_resolve(registry.settings.get("tm.commit_veto"))

    def commits(request, response) -> bool:
        """pyramid_tm's own decision, taken after this tween returns."""
        if request.tm.isDoomed():
            return False
        if veto is not None:
            return not veto(request, response)
        return getattr(request, "exc_info", None) is None

    def after_commit(ok: bool, entry: actions.Entry) -> None:
        """The commit failed: the action and its entry are rolled back, and the client gets
        the error page (500); the log says so, apart."""
        if not ok:
            failed = dataclasses.replace(
                entry,
                status=500,
                outcome=actions.ABORTED,
                detail=actions.COMMIT_FAILED,
                transition_ids=(),
                transitions=0,
            )
            actions.record_apart(session_factory, failed, settings=settings)

    def staff_actions_tween(request):
        if request.method not in UNSAFE:
            return handler(request)
        response = handler(request)
        identity = _seen(request)
        action = _action_of(request)
        staff = identity is not None and identity.is_staff
        if not is_action(action) or not (staff or action in SIGN_IN):
            return response
        exc = getattr(request, "exception", None)
        if exc is not None and is_error_retryable(request, exc) and not is_last_attempt(request):
            return response  # pyramid_retry runs the request again; that attempt is recorded
        if not commits(request, response):
            entry = _entry(request, identity, response, action, committed=False)
            clock = request.__dict__.get("clock")  # the request's, if it read one
            now = clock.now() if clock is not None else None
            # After pyramid_tm's abort has given the request's connection back to the pool,
            # so that a refusal holds one connection at a time.
            request.tm.get().addAfterAbortHook(
                actions.record_apart,
                args=(session_factory, entry),
                kws=dict(settings=settings, now=now),
            )
            return response
        entry = _entry(request, identity, response, action, committed=True)
        entry = actions.linking(entry, written(request.db))
        try:
            actions.record(request.db, request.clock.now(), entry)
        except Exception:  # the action must not commit without its entry
            log.exception("could not write the staff action", extra={"action": action})
            request.tm.doom()
            failed = dataclasses.replace(
                entry, status=500, outcome=actions.ERROR, transition_ids=(), transitions=0
            )
            request.tm.get().addAfterAbortHook(
                actions.record_apart, args=(session_factory, failed), kws=dict(settings=settings)
            )
            return request.invoke_exception_view(sys.exc_info())
        request.tm.get().addAfterCommitHook(after_commit, args=(entry,))
        return response

    return staff_actions_tween


def includeme(config):
    config.add_tween(
        "views.staff_actions.staff_actions_tween_factory",
        over=EXCVIEW,
        under="pyramid_tm.tm_tween_factory",
    )
