"""Resident calls about coupons: the current round, acquisition (I-2, I-3), the coupons held."""

from __future__ import annotations

from pyramid.interfaces import IDefaultCSRFOptions, IRoutesMapper
from pyramid.view import view_config

from kariya import roles
from kariya.coupons import GROUP_COMMIT_KEY, SOLD_OUT_MEMO_KEY, acquisition, batch
from kariya.security import SESSION_FACTORY_KEY, P
from views.api.support import (
    IDEMPOTENCY_HEADER,
    idempotency_key,
    idempotent,
    json_body,
    resident_id,
)
from views.errors import domain_error


@view_config(route_name="api.rounds.current", request_method="GET", renderer="json")
def current_round(request):
    identity = request.identity
    person_id = identity.id if identity is not None and identity.role == roles.RESIDENT else None
    return acquisition.round_status(request.db, request.clock, person_id)


@view_config(
    route_name="api.acquisitions",
    request_method="POST",
    renderer="json",
    permission=P.RESIDENT_COUPONS_ACQUIRE,
)
def acquire(request):
    json_body(request, required=False)  # no fields; but malformed or oversized input is refused
    person_id = resident_id(request)
    memo = request.registry[SOLD_OUT_MEMO_KEY]
    committer = request.registry[GROUP_COMMIT_KEY]
    now = request.clock.now()
    key, digest = idempotency_key(request)
    if memo is not None and key is None and memo.refuses(now):
        # The late arrivals: no database session at all, and answered as a response rather than
        # raised (the exception view's lookup cost each about 15% of its CPU; issue 16). With a
        # key the single path runs, so a retry of an acquisition that was made still gets its
        # first answer replayed.
        return domain_error(acquisition.SoldOut(), request)
    if committer is not None:
        # The rush's group commit (kariya.coupons.group_commit); None: the single path below.
        answer = committer.acquire(batch.Ask(person_id, now, key, digest))
        if answer is not None:
            request.response.status = 201
            return answer
    return idempotent(
        request, person_id, lambda: acquisition.acquire(request.db, request.clock, person_id, memo)
    )


@view_config(
    route_name="api.coupons",
    request_method="GET",
    renderer="json",
    permission=P.RESIDENT_COUPONS_USE,
)
def coupons(request):
    return {"coupons": acquisition.coupons_of(request.db, resident_id(request))}


def sold_out_tween_factory(handler, registry):
    """The rush's late arrivals answered before the session store, the transaction and the view
    (issue 16; PATTERNS.md, admission control). Once this process has seen the round sold out
    (the memo, within its time), a POST to the acquisitions that carries a session cookie this
    app signed, an X-CSRF-Token and no Idempotency-Key is told SOLD_OUT here, the same answer
    as the view's. It reads nothing (no Redis, no SQL) and changes nothing, so the token is not
    compared with the session's record (a page of another site cannot send the header at all),
    and it is not counted by the rate limits (it costs less than counting it). A call without a
    signed cookie or without the token takes the whole path (401, 403 CSRF as before); so does
    one with a key (its first answer is replayed), and every call once the memo lapses: then the
    view's own check sends one of them to look again."""
    memo = registry[SOLD_OUT_MEMO_KEY]
    if memo is None:
        return handler
    route = registry.getUtility(IRoutesMapper).get_route("api.acquisitions")
    sessions = registry[SESSION_FACTORY_KEY]
    csrf_header = registry.getUtility(IDefaultCSRFOptions).header  # the one the CSRF check reads

    def sold_out_tween(request):
        if (
            request.method == "POST"
            and route.match(request.path_info) is not None
            and csrf_header in request.headers
            and IDEMPOTENCY_HEADER not in request.headers
            and memo.remembers(request.clock.now())
            and sessions.read_id(request) is not None
        ):
            return domain_error(acquisition.SoldOut(), request)
        return handler(request)

    return sold_out_tween


def includeme(config):
    config.add_tween(
        "views.api.coupons.sold_out_tween_factory",
        under="kariya.logs.request_id_tween_factory",  # below the security headers and the log
        over="pyramid_tm.tm_tween_factory",
    )
