"""GET /api/v1/staff/dashboard (DESIGN §5.2): the city's figures as of their last refresh."""

from pyramid.view import view_config

from kariya.errors import NotFound
from kariya.reports import dashboard
from kariya.security import P


@view_config(
    route_name="api.staff.dashboard",
    renderer="json",
    permission=P.STAFF_DASHBOARD_VIEW,
    request_method="GET",
)
def staff_dashboard(request):
    body = dashboard.api(request.db, request.clock, dashboard.max_age_of(request.kariya_settings))
    if body is None:
        raise NotFound("キャンペーンが登録されていません。", code="NO_CAMPAIGN")
    request.response.cache_control = "no-store"
    return body
