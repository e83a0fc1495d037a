"""At the till (issue 15): today's code, and the store's staff PIN (set, changed or turned off
here; the store is always the session's)."""

from pyramid.httpexceptions import HTTPFound
from pyramid.renderers import render_to_response
from pyramid.view import view_config

from kariya.errors import DomainError
from kariya.models import Store
from kariya.redemptions import till
from kariya.security import P


def _values(request, store: Store, error: str | None = None) -> dict:
    return {
        "store": store,
        "till": till.portal(till.of(request.kariya_settings), store, request.clock.now()),
        "max_failures": request.kariya_settings.till.max_pin_failures,
        "error": error,
    }


@view_config(
    route_name="store.till",
    renderer="store/till.jinja2",
    permission=P.STORE_TILL_MANAGE,
    request_method="GET",
)
def index(request):
    return _values(request, request.db.get(Store, request.identity.store_id))


@view_config(route_name="store.till", permission=P.STORE_TILL_MANAGE, request_method="POST")
def set_pin(request):
    store = request.db.get(Store, request.identity.store_id)
    had_pin = store.till_pin_hash is not None
    try:
        till.set_pin(
            request.db,
            request.clock,
            till.of(request.kariya_settings),
            store,
            request.POST.get("pin", ""),
            request.POST.get("pin_confirm", ""),
            actor=request.identity.actor,
        )
    except DomainError as exc:
        response = render_to_response(
            "store/till.jinja2", _values(request, store, exc.message), request=request
        )
        response.status = exc.status  # the transaction aborts: the PIN stays as it was
        return response
    done = "変更しました" if had_pin else "設定しました"
    request.session.flash(
        f"暗証番号を{done}。これからは、お客様のスマートフォンにお店の人が暗証番号を入力すると、"
        "利用が確定します。"
    )
    return HTTPFound(request.route_url("store.till"))


@view_config(route_name="store.till_off", permission=P.STORE_TILL_MANAGE, request_method="POST")
def turn_off(request):
    store = request.db.get(Store, request.identity.store_id)
    till.clear_pin(request.db, request.clock, store, actor=request.identity.actor)
    request.session.flash("暗証番号の入力をやめました。利用はお客様の「使う」ボタンで確定します。")
    return HTTPFound(request.route_url("store.till"))
