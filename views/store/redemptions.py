"""The store portal: this store's uses, live, with the void button (one store per account)."""

import datetime as dt

from pyramid.httpexceptions import HTTPFound
from pyramid.view import view_config

from kariya.campaign import rules
from kariya.models import Store
from kariya.payouts import batches, statements
from kariya.redemptions import till, uses
from kariya.security import P
from kariya.stores import notices


def _today_start(request) -> dt.datetime:
    """Midnight today in the campaign's time zone."""
    zone = rules.zone_of(request.campaign_rules)
    return request.clock.now().astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)


@view_config(
    route_name="store.home",
    renderer="store/home.jinja2",
    permission=P.STORE_HOME_VIEW,
    request_method="GET",
)
def home(request):
    store_id = request.identity.store_id
    store = request.db.get(Store, store_id)
    return {
        "store": store,
        "till": till.portal(till.of(request.kariya_settings), store, request.clock.now()),
        "unread_notices": notices.unread(request.db, store_id),
        "uses": uses.of_store(request.db, request.clock, store_id, since=_today_start(request)),
        "totals": statements.store_totals(
            request.db,
            store_id,
            batches.cutoffs_of(request.kariya_settings),
            rules.zone_of(request.campaign_rules),
        ),
    }


@view_config(
    route_name="store.redemptions",
    renderer="json",
    permission=P.STORE_HOME_VIEW,
    request_method="GET",
)
def live(request):
    """Polled by the portal page: today's uses, newest first, and today's code (it changes at
    midnight while the page stays open)."""
    store = request.db.get(Store, request.identity.store_id)
    return {
        "uses": uses.of_store(request.db, request.clock, store.id, since=_today_start(request)),
        "day_code": till.portal(till.of(request.kariya_settings), store, request.clock.now())[
            "day_code"
        ],
    }


@view_config(route_name="store.void", permission=P.STORE_REDEMPTIONS_VOID, request_method="POST")
def void(request):
    redemption = uses.void(
        request.db,
        request.clock,
        store_id=request.identity.store_id,
        redemption_id=int(request.matchdict["id"]),
        actor=request.identity.actor,
        reason=request.POST.get("reason", ""),
    )
    request.session.flash(
        f"確認番号 {redemption.confirmation_code} の利用を取り消しました。割引券はお客様に戻りました。"
    )
    return HTTPFound(request.route_url("store.home"))
