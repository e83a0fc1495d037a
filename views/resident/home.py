from pyramid.view import view_config

from kariya.security import P
from kariya.services import issuance


@view_config(
    route_name="resident.home",
    renderer="resident/home.jinja2",
    permission=P.RESIDENT_HOME_VIEW,
    request_method="GET",
)
def home(request):
    return {
        "status": issuance.round_status(request.db, request.clock, request.identity.id),
        "coupons": issuance.coupons_of(request.db, request.identity.id),
    }
