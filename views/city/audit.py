"""The access log for the city (D-1): who saw which resident's data, when and why; exportable."""

from __future__ import annotations

from pyramid.view import view_config

from kariya.security import P
from views.secretariat.audit import access_log_csv, access_log_page


@view_config(
    route_name="city.access_log",
    renderer="common/access_log.jinja2",
    permission=P.AUDIT_ACCESS_LOG_VIEW,
    request_method="GET",
)
def index(request):
    return access_log_page(request, "city.access_log_csv")


@view_config(
    route_name="city.access_log_csv", permission=P.AUDIT_ACCESS_LOG_VIEW, request_method="GET"
)
def download(request):
    return access_log_csv(request)
