"""The secretariat runs the time-driven transitions of the rounds now (the tick task)."""

from pyramid.httpexceptions import HTTPFound
from pyramid.view import view_config

from kariya.security import P


@view_config(
    route_name="secretariat.tick", permission=P.SECRETARIAT_TICK_RUN, request_method="POST"
)
def tick(request):
    request.enqueue("kariya.tick")
    request.session.flash("時間による処理(開始・終了・繰越)の実行を依頼しました。")
    return HTTPFound(request.route_url("secretariat.home"))
