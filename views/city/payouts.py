"""The city sees every payout batch and approves or rejects what the secretariat submitted, and
decides the secretariat's payout adjustments (four eyes both)."""

from pyramid.httpexceptions import HTTPFound
from pyramid.renderers import render_to_response
from pyramid.view import view_config

from kariya.errors import DomainError
from kariya.payouts import adjustments, batches, statements
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


# -- adjustments -------------------------------------------------------------------------------


def adjustments_page(request, *, error=None, status=200):
    values = {
        "rows": adjustments.listing(request.db),
        "state_label": adjustments.state_label,
        "error": error,
        "form": {},
        "role": "city",
    }
    response = render_to_response("common/adjustments.jinja2", values, request=request)
    response.status = status
    return response


@view_config(
    route_name="city.adjustments", permission=P.CITY_ADJUSTMENTS_DECIDE, request_method="GET"
)
def adjustments_index(request):
    return adjustments_page(request)


@view_config(
    route_name="city.adjustment", permission=P.CITY_ADJUSTMENTS_DECIDE, request_method="POST"
)
def decide_adjustment(request):
    adjustment = adjustments.get(request.db, int(request.matchdict["id"]))
    try:
        if request.matchdict["action"] == "approve":
            said = adjustments.approve(
                request.db, request.clock, adjustment, actor=request.identity.actor
            )
            message = f"調整 No.{adjustment.id} を承認しました({said}から充当・返還)。"
        else:
            adjustments.reject(
                request.db,
                request.clock,
                adjustment,
                actor=request.identity.actor,
                reason=request.POST.get("reason", ""),
            )
            message = f"調整 No.{adjustment.id} を不承認にしました。"
    except DomainError as exc:
        request.db.expire_all()
        return adjustments_page(request, error=exc.message, status=exc.status)
    request.session.flash(message)
    return HTTPFound(request.route_url("city.adjustments"))
