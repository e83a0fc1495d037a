"""Residents' pages (mobile-first, Japanese): home and the wallet. The acquire step calls the
JSON API from a small script on the page, so the page and the API share one set of rules and
messages."""

from pyramid.httpexceptions import HTTPFound
from pyramid.view import view_config

from kariya.coupons import acquisition
from kariya.documents import consent
from kariya.models import Person
from kariya.security import P


@view_config(
    route_name="resident.home",
    renderer="resident/home.jinja2",
    permission=P.RESIDENT_HOME_VIEW,
    request_method="GET",
)
def home(request):
    person = request.db.get(Person, request.identity.id)
    if person is None or not person.has_profile:  # first visit (I-1)
        return HTTPFound(request.route_url("resident.profile", _query={"next": "/home"}))
    if consent.needs_consent(request.db, person.id):  # new terms: asked before acquiring
        return HTTPFound(request.route_url("resident.terms", _query={"next": "/home"}))
    status = acquisition.round_status(request.db, request.clock, request.identity.id)
    coupons = acquisition.coupons_of(request.db, request.identity.id)
    usable = [c for c in coupons if c["state"] == "issued" and c["round"] == status["round"]]
    return {"status": status, "usable": usable}


@view_config(
    route_name="resident.wallet",
    renderer="resident/wallet.jinja2",
    permission=P.RESIDENT_HOME_VIEW,
    request_method="GET",
)
def wallet(request):
    return {
        "coupons": acquisition.coupons_of(request.db, request.identity.id),
        "now": request.clock.now(),
    }
