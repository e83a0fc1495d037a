"""The access log for the city and the secretariat (DESIGN.md 5.2, D-1)."""

from __future__ import annotations

from pyramid.view import view_config

from kariya.audit import access
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
