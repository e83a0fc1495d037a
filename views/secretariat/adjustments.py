"""The secretariat proposes payout adjustments (a disputed use, a correction); the city decides."""

from pyramid.httpexceptions import HTTPFound
from pyramid.renderers import render_to_response
from pyramid.view import view_config

from kariya.errors import DomainError
from kariya.payouts import adjustments
from kariya.security import P

FIELDS = ("store_code", "amount", "reason", "confirmation_code")


def page(request, *, error=None, form=None, status=200):
    values = {
        "rows": adjustments.listing(request.db),
        "state_label": adjustments.state_label,
        "error": error,
        "form": form or {},
        "role": "secretariat",
    }
    response = render_to_response("common/adjustments.jinja2", values, request=request)
    response.status = status
    return response


@view_config(
    route_name="secretariat.adjustments",
    permission=P.SECRETARIAT_ADJUSTMENTS_PROPOSE,
    request_method="GET",
)
def index(request):
    return page(request)


@view_config(
    route_name="secretariat.adjustments",
    permission=P.SECRETARIAT_ADJUSTMENTS_PROPOSE,
    request_method="POST",
)
def propose(request):
    form = {k: request.POST.get(k, "") for k in FIELDS}
    try:
        adjustment = adjustments.propose(
            request.db,
            request.clock,
            actor=request.identity.actor,
            max_amount=request.kariya_settings.adjustments.max_amount,
            **form,
        )
    except DomainError as exc:
        return page(request, error=exc.message, form=form, status=exc.status)
    request.session.flash(
        f"調整 No.{adjustment.id}({adjustment.amount:+,}円)を起案しました。市の承認後、次回の支払バッチに入ります。"
    )
    return HTTPFound(request.route_url("secretariat.adjustments"))
