"""Notices from the secretariat (S-4) on the store portal. The store is always the session's
(request.identity.store_id), never one named in the URL."""

from pyramid.httpexceptions import HTTPFound
from pyramid.view import view_config

from kariya.security import P
from kariya.stores import notices


@view_config(
    route_name="store.notices",
    renderer="store/notices.jinja2",
    permission=P.STORE_NOTICES_READ,
    request_method="GET",
)
def index(request):
    return {"notices": notices.for_store(request.db, request.identity.store_id)}


@view_config(route_name="store.notice_read", permission=P.STORE_NOTICES_READ, request_method="POST")
def mark_read(request):
    notices.mark_read(
        request.db,
        request.clock,
        request.identity.store_id,
        int(request.matchdict["id"]),
        request.identity.actor,
    )
    request.session.flash("お知らせを確認済みにしました。")
    back = "store.notices" if request.POST.get("next") == "notices" else "store.home"
    return HTTPFound(request.route_url(back))
