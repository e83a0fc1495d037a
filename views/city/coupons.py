"""The city stops and resumes the distribution of coupons (the rounds' halt)."""

from pyramid.httpexceptions import HTTPFound
from pyramid.view import view_config

from kariya.campaign import definition
from kariya.coupons import rounds
from kariya.errors import Invalid
from kariya.security import P


def _campaign(request):
    campaign = definition.latest(request.db)
    if campaign is None:
        raise Invalid("キャンペーンが登録されていません。")
    return campaign


@view_config(route_name="city.halt", permission=P.CITY_ISSUANCE_HALT, request_method="POST")
def halt(request):
    rounds.halt(
        request.db,
        _campaign(request),
        actor=request.identity.actor,
        now=request.clock.now(),
        reason=request.POST.get("reason", ""),
    )
    request.session.flash("割引券の配布を停止しました。")
    return HTTPFound(request.route_url("city.home"))


@view_config(route_name="city.resume", permission=P.CITY_ISSUANCE_HALT, request_method="POST")
def resume(request):
    rounds.resume(
        request.db,
        _campaign(request),
        actor=request.identity.actor,
        now=request.clock.now(),
        reason=request.POST.get("reason", ""),
    )
    request.session.flash("割引券の配布を再開しました。")
    return HTTPFound(request.route_url("city.home"))
