"""The call centre's home: the current round's status, as residents see it, beside the answer
manual (views.callcenter.documents)."""

from pyramid.view import view_config

from kariya.coupons import acquisition
from kariya.security import P
from views.callcenter import documents


@view_config(
    route_name="callcenter.home",
    renderer="callcenter/home.jinja2",
    permission=P.CALLCENTER_HOME_VIEW,
    request_method="GET",
)
def home(request):
    return {
        "status": acquisition.round_status(request.db, request.clock, None),
        **documents.panel(request),
    }
