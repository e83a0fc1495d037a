"""The staff member behind the session (DESIGN.md 5.2): who they are and the CSRF token that
their unsafe JSON calls carry."""

from __future__ import annotations

from pyramid.csrf import get_csrf_token
from pyramid.view import view_config
from sqlalchemy import select

from kariya.stores.models import Store
from views.api.residents import Unauthenticated


@view_config(route_name="api.staff.me", request_method="GET", renderer="json")
def me(request):
    identity = request.identity
    if identity is None or not identity.is_staff:
        raise Unauthenticated()
    store_code = None
    if identity.store_id is not None:
        store_code = request.db.scalar(select(Store.code).where(Store.id == identity.store_id))
    return {
        "username": identity.username,
        "role": identity.role,
        "store_code": store_code,
        "csrf_token": get_csrf_token(request),
    }
