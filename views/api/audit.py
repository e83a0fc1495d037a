"""The access log (DESIGN.md 5.2, D-1) and the audit log of staff actions, for the city and the
secretariat."""

from __future__ import annotations

import dataclasses

from pyramid.view import view_config

from kariya.audit import access, actions
from kariya.clock import JST
from kariya.security import P
from views.api.callcenter import parse_instant


@view_config(
    route_name="api.staff.access_log",
    request_method="GET",
    renderer="json",
    permission=P.AUDIT_ACCESS_LOG_VIEW,
)
def access_log(request):
    since = parse_instant(request.params.get("since"), "since")
    return {"entries": [access.entry_json(e) for e in access.entries(request.db, since)]}


@view_config(
    route_name="api.staff.audit_log",
    request_method="GET",
    renderer="json",
    permission=P.AUDIT_STAFF_ACTIONS_VIEW,
)
def audit_log(request):
    """The audit log of staff actions from `since` on, oldest first, of one account if `actor`."""
    filters = actions.parse_filters({"actor": request.params.get("actor", "")}, JST)
    since = parse_instant(request.params.get("since"), "since")
    found = actions.entries(request.db, dataclasses.replace(filters, since=since))
    return {"entries": [actions.entry_json(e) for e in found]}
