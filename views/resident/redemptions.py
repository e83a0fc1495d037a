"""Residents' uses: the page a store's QR opens (its steps call the JSON API, so the page and
the API share one set of rules and messages), and the history."""

from pyramid.view import view_config

from kariya.campaign import rules
from kariya.redemptions import uses
from kariya.security import P


@view_config(
    route_name="resident.history",
    renderer="resident/history.jinja2",
    permission=P.RESIDENT_HOME_VIEW,
    request_method="GET",
)
def history(request):
    return {"uses": uses.of_person(request.db, request.identity.id)}


@view_config(
    route_name="resident.use",
    renderer="resident/use.jinja2",
    permission=P.RESIDENT_COUPONS_USE,
    request_method="GET",
)
def use(request):
    """The page a store's QR opens: the steps run against /api/v1/qr and /api/v1/redemptions."""
    return {
        "token": request.matchdict["token"],
        "now": request.clock.now(),
        "rules": request.campaign_rules,
        "timezone": rules.zone_of(request.campaign_rules).key,
    }
