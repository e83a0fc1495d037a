"""The city sees every batch and approves or rejects what the secretariat submitted (four eyes)."""

from pyramid.httpexceptions import HTTPFound
from pyramid.view import view_config

from kariya.payouts import batches, statements
from kariya.security import P
from views.secretariat.payouts import batch_page, xlsx_response
from workflows import payout as payout_wf
from workflows.binding import label


@view_config(
    route_name="city.payouts",
    renderer="city/payouts.jinja2",
    permission=P.CITY_PAYOUTS_APPROVE,
    request_method="GET",
)
def index(request):
    return {
        "batches": batches.batches(request.db),
        "label": lambda s: label(payout_wf.MACHINE, s),
        "totals": batches.totals,
    }


@view_config(
    route_name="city.payout",
    renderer="common/payout_batch.jinja2",
    permission=P.CITY_PAYOUTS_APPROVE,
    request_method="GET",
)
def show(request):
    return batch_page(request, batches.get(request.db, int(request.matchdict["id"])), "city")


@view_config(
    route_name="city.payout_action", permission=P.CITY_PAYOUTS_APPROVE, request_method="POST"
)
def act(request):
    batch = batches.get(request.db, int(request.matchdict["id"]))
    if request.matchdict["action"] == "approve":
        batches.approve(request.db, request.clock, batch, actor=request.identity.actor)
        request.session.flash(f"支払バッチ No.{batch.id} を承認しました。")
    else:
        batches.reject(
            request.db,
            request.clock,
            batch,
            actor=request.identity.actor,
            reason=request.POST.get("reason", ""),
        )
        request.session.flash(f"支払バッチ No.{batch.id} を差し戻しました。")
    return HTTPFound(request.route_url("city.payout", id=batch.id))


@view_config(route_name="city.payout_xlsx", permission=P.CITY_PAYOUTS_APPROVE, request_method="GET")
def xlsx(request):
    batch = batches.get(request.db, int(request.matchdict["id"]))
    return xlsx_response(statements.batch_xlsx(request.db, batch), f"payout_batch{batch.id}.xlsx")
