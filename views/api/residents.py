"""Resident calls about the resident: who is logged in, the profile and its options, the
agreement to the terms, and the withdrawal (DESIGN.md sections 5 and 5.1)."""

from __future__ import annotations

from pyramid.csrf import get_csrf_token
from pyramid.response import Response
from pyramid.security import forget
from pyramid.view import view_config

from kariya import roles
from kariya.documents import consent
from kariya.errors import DomainError
from kariya.models import Person
from kariya.residents import options, withdrawal
from kariya.security import P
from views import inputs
from views.api.support import json_body, resident_id

PROFILE = {
    "age_band": inputs.text(),
    "area": inputs.text(),
    "agreed_terms": inputs.integer(nullable=True),
}


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"
    status = 401
    message = "ログインしてください。"


def profile_json(person: Person) -> dict | None:
    if not person.has_profile:
        return None
    return {"age_band": person.age_band, "area": person.area}


@view_config(route_name="api.profile_options", request_method="GET", renderer="json")
def get_profile_options(request):
    return {**options.as_json(), "terms_version": consent.current_terms(request.db)}


@view_config(route_name="api.me", request_method="GET", renderer="json")
def me(request):
    identity = request.identity
    if identity is None or identity.role != roles.RESIDENT:
        raise Unauthenticated()
    person = request.db.get(Person, identity.id)
    if person is None or person.withdrawn:
        forget(request)  # a session that outlived its resident's withdrawal (another browser)
        raise Unauthenticated()
    return {
        "line_user_id": person.line_user_id,
        "display_name": person.display_name,
        "ref": person.ref,
        "profile": profile_json(person),
        "csrf_token": get_csrf_token(request),
        "needs_consent": consent.needs_consent(request.db, person.id),
    }


@view_config(
    route_name="api.me.profile",
    request_method="PUT",
    renderer="json",
    permission=P.RESIDENT_PROFILE_EDIT,
)
def put_profile(request):
    body = inputs.fields(json_body(request), **PROFILE)
    person = request.db.get(Person, resident_id(request))
    if person is None or person.withdrawn:
        forget(request)
        raise withdrawal.Withdrawn()
    consent.save_profile(
        request.db,
        request.clock,
        person,
        body["age_band"],
        body["area"],
        agreed_terms=body["agreed_terms"],
    )
    return profile_json(person)


@view_config(
    route_name="api.me",
    request_method="DELETE",
    permission=P.RESIDENT_ACCOUNT_WITHDRAW,
)
def withdraw(request):
    """DESIGN §5.1: the resident withdraws (kariya.residents.withdrawal) and their session ends;
    204. The CSRF token is required as for every unsafe call; a repeat while the session lives
    (a double tap) answers 204 again, one after it has ended 401."""
    withdrawal.withdraw(
        request.db,
        request.clock,
        resident_id(request),
        withdrawal.hash_key(request.kariya_settings),
    )
    forget(request)  # the server-side session record is deleted
    return Response(status=204)
