"""Residents' pages (mobile-first, Japanese). The acquire and use steps call the JSON API from
small scripts on the page, so the page and the API share one set of rules and messages."""

from pyramid.httpexceptions import HTTPFound, HTTPNotFound
from pyramid.view import view_config

from kariya.campaign import excluded_items, rules
from kariya.coupons import acquisition
from kariya.errors import Invalid
from kariya.models import Person, Store
from kariya.redemptions import uses
from kariya.residents import options
from kariya.security import P
from kariya.stores import finder


def _callcenter(request) -> dict:
    settings = request.registry.settings
    return {
        "phone": settings["kariya.callcenter.phone"],
        "hours": settings["kariya.callcenter.hours"],
    }


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


@view_config(
    route_name="resident.history",
    renderer="resident/history.jinja2",
    permission=P.RESIDENT_HOME_VIEW,
    request_method="GET",
)
def history(request):
    return {"uses": uses.of_person(request.db, request.identity.id)}


@view_config(route_name="resident.stores", renderer="resident/stores.jinja2", request_method="GET")
def stores(request):
    try:
        page = int(request.params.get("page", "1") or 1)
    except ValueError:
        raise Invalid("ページ番号が正しくありません。") from None
    q, category, area = (request.params.get(k, "") for k in ("q", "category", "area"))
    return {
        "result": finder.search(request.db, q=q, category=category, area=area, page=page),
        "q": q,
        "category": category,
        "area": area,
        "categories": finder.categories(request.db),
        "areas": options.AREAS,
    }


@view_config(route_name="resident.store", renderer="resident/store.jinja2", request_method="GET")
def store(request):
    from sqlalchemy import select

    found = request.db.scalar(
        select(Store).where(Store.code == request.matchdict["code"], Store.state == "active")
    )
    if found is None:
        raise HTTPNotFound()
    return {"store": finder.store_json(found), "areas": options.AREAS}


@view_config(
    route_name="resident.excluded", renderer="resident/excluded.jinja2", request_method="GET"
)
def excluded(request):
    return {"items": excluded_items.ITEMS}


@view_config(route_name="resident.help", renderer="resident/help.jinja2", request_method="GET")
def help_page(request):
    return {"callcenter": _callcenter(request)}


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
