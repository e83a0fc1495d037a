"""Resident calls about coupons: the current round, acquisition (I-2, I-3), the coupons held."""

from __future__ import annotations

from pyramid.view import view_config

from kariya import roles
from kariya.coupons import GROUP_COMMIT_KEY, SOLD_OUT_MEMO_KEY, acquisition, batch
from kariya.security import P
from views.api.support import idempotency_key, idempotent, json_body, resident_id
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
