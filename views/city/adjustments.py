"""The city approves or rejects the secretariat's payout adjustments (four eyes)."""

from pyramid.httpexceptions import HTTPFound
from pyramid.renderers import render_to_response
from pyramid.view import view_config

from kariya.errors import DomainError
from kariya.payouts import adjustments
from kariya.security import P


def page(request, *, error=None, status=200):
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
def index(request):
    return page(request)


@view_config(
    route_name="city.adjustment", permission=P.CITY_ADJUSTMENTS_DECIDE, request_method="POST"
)
def decide(request):
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
        return page(request, error=exc.message, status=exc.status)
    request.session.flash(message)
    return HTTPFound(request.route_url("city.adjustments"))
