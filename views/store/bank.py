"""The store's transfer account: what is on record, and a request to change it (approved by the
secretariat before it takes effect)."""

from pyramid.httpexceptions import HTTPFound
from pyramid.renderers import render_to_response
from pyramid.view import view_config

from kariya.errors import DomainError
from kariya.models import Store
from kariya.payouts import bank_accounts
from kariya.security import P
from workflows import bank_change as bank_wf
from workflows.binding import label


def _values(request, store: Store, error=None, problems=(), form=None) -> dict:
    return {
        "store": store,
        "current": bank_accounts.describe(store),
        "open": bank_accounts.open_request(request.db, store.id),
        "requests": bank_accounts.requests_of(request.db, store.id),
        "describe": bank_accounts.describe,
        "state_label": lambda s: label(bank_wf.MACHINE, s),
        "error": error,
        "problems": problems,
        "form": form or {},
    }


@view_config(
    route_name="store.bank",
    renderer="store/bank.jinja2",
    permission=P.STORE_BANK_REQUEST,
    request_method="GET",
)
def show(request):
    return _values(request, request.db.get(Store, request.identity.store_id))


@view_config(route_name="store.bank", permission=P.STORE_BANK_REQUEST, request_method="POST")
def request_change(request):
    store = request.db.get(Store, request.identity.store_id)
    form = {k: request.POST.get(k, "") for k in (*bank_accounts.FIELDS, "note")}
    try:
        req = bank_accounts.request_change(
            request.db,
            request.clock,
            request.kariya_settings,
            store,
            form,
            actor=request.identity.actor,
        )
    except DomainError as exc:
        problems = exc.details if isinstance(exc.details, list) else ()
        response = render_to_response(
            "store/bank.jinja2",
            _values(request, store, exc.message, problems, form),
            request=request,
        )
        response.status = exc.status  # the transaction aborts: nothing written, no mail
        return response
    request.enqueue("kariya.mail.send")
    request.session.flash(
        f"振込先口座の変更を申請しました(申請番号 {req.id})。事務局から登録済みの電話番号へ"
        "確認のお電話をしたうえで承認します。承認されるまでは、これまでの口座へお振込みします。"
    )
    return HTTPFound(request.route_url("store.bank"))


@view_config(
    route_name="store.bank_withdraw", permission=P.STORE_BANK_REQUEST, request_method="POST"
)
def withdraw(request):
    req = bank_accounts.get(
        request.db, int(request.matchdict["id"]), store_id=request.identity.store_id
    )
    bank_accounts.withdraw(request.db, request.clock, req, actor=request.identity.actor)
    request.session.flash(f"口座変更申請(申請番号 {req.id})を取り下げました。")
    return HTTPFound(request.route_url("store.bank"))
