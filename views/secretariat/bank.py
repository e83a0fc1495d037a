"""The secretariat decides the stores' requests to change their transfer account."""

from pyramid.httpexceptions import HTTPFound
from pyramid.renderers import render_to_response
from pyramid.view import view_config

from kariya.errors import DomainError
from kariya.models import Store
from kariya.payouts import bank_accounts
from kariya.security import P
from workflows import bank_change as bank_wf
from workflows.binding import label


def _label(state: str) -> str:
    return label(bank_wf.MACHINE, state)


@view_config(
    route_name="secretariat.bank_requests",
    renderer="secretariat/bank_requests.jinja2",
    permission=P.SECRETARIAT_BANK_DECIDE,
    request_method="GET",
)
def index(request):
    return {
        "pending": bank_accounts.pending(request.db),
        "decided": bank_accounts.recent_decided(request.db),
        "describe": bank_accounts.describe,
        "state_label": _label,
    }


def _detail(request, req, error=None, reason="") -> dict:
    store = request.db.get(Store, req.store_id)
    return {
        "req": req,
        "store": store,
        "current": bank_accounts.describe(store),
        "proposed": bank_accounts.describe(req),
        "warnings": bank_accounts.warnings(req, store) if req.state == "requested" else [],
        "state_label": _label,
        "error": error,
        "reason": reason,
    }


@view_config(
    route_name="secretariat.bank_request",
    renderer="secretariat/bank_request.jinja2",
    permission=P.SECRETARIAT_BANK_DECIDE,
    request_method="GET",
)
def show(request):
    return _detail(request, bank_accounts.get(request.db, int(request.matchdict["id"])))


@view_config(
    route_name="secretariat.bank_request",
    permission=P.SECRETARIAT_BANK_DECIDE,
    request_method="POST",
)
def decide(request):
    req = bank_accounts.get(request.db, int(request.matchdict["id"]))
    decision = request.POST.get("decision", "")
    reason = request.POST.get("reason", "")
    args = (request.db, request.clock, request.kariya_settings, req)
    try:
        if decision == "approve":
            notes = bank_accounts.approve(*args, actor=request.identity.actor, reason=reason)
            message = "口座変更を承認しました。振込先を変更しました。" + "".join(notes)
        elif decision == "reject":
            bank_accounts.reject(*args, actor=request.identity.actor, reason=reason)
            message = "口座変更を不承認にしました。振込先は変わりません。"
        else:
            return HTTPFound(request.route_url("secretariat.bank_request", id=req.id))
    except DomainError as exc:
        request.db.expire(req)
        response = render_to_response(
            "secretariat/bank_request.jinja2",
            _detail(request, req, exc.message, reason),
            request=request,
        )
        response.status = exc.status
        return response
    request.enqueue("kariya.mail.send")
    request.session.flash(message + "店舗の登録メールアドレスへお知らせしました。")
    return HTTPFound(request.route_url("secretariat.bank_request", id=req.id))
