"""The secretariat's view of the figures (the city's dashboard, C-1) and the hand-over (D-2):
build the ZIP of every table for the city, follow its progress, download it, and request the
erasure of the residents' personal data that a city approver then approves."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPFound
from pyramid.renderers import render_to_response
from pyramid.view import view_config

from kariya.errors import DomainError
from kariya.reports import dashboard, handover, jobs
from kariya.security import P
from views.city.reports import dashboard_page, erasure_values, job_json, stream_response


@view_config(
    route_name="secretariat.dashboard",
    renderer="common/dashboard.jinja2",
    permission=P.STAFF_DASHBOARD_VIEW,
    request_method="GET",
)
def show_dashboard(request):
    return dashboard_page(request, "secretariat")


@view_config(
    route_name="secretariat.dashboard_refresh",
    permission=P.STAFF_DASHBOARD_VIEW,
    request_method="POST",
)
def refresh_dashboard(request):
    dashboard.refresh(request.db, request.clock)
    request.session.flash("集計を最新の状態に更新しました。")
    return HTTPFound(request.route_url("secretariat.dashboard"))


def _page(request, error: str | None = None, status: int = 200):
    recent = jobs.recent(request.db, handover=True, limit=5)
    values = {
        **erasure_values(request),
        "jobs": [job_json(request, j, "handover") for j in recent],
        "building": bool(recent and recent[0].unfinished),
        "error": error,
    }
    response = render_to_response("secretariat/handover.jinja2", values, request=request)
    response.status = status
    return response


@view_config(
    route_name="secretariat.handover", permission=P.SECRETARIAT_HANDOVER_RUN, request_method="GET"
)
def handover_index(request):
    return _page(request)


@view_config(
    route_name="secretariat.handover_build",
    permission=P.SECRETARIAT_HANDOVER_RUN,
    request_method="POST",
)
def handover_build(request):
    try:
        job = jobs.start(
            request.db,
            request.clock,
            kind=jobs.HANDOVER,
            fmt="zip",
            encoding="utf-8-sig",
            actor=request.identity.actor,
            role=request.identity.role,
        )
    except DomainError as exc:
        return _page(request, exc.message, exc.status)
    request.enqueue("kariya.reports.export", job.id)
    request.session.flash("引き渡しデータの作成を開始しました。")
    return HTTPFound(request.route_url("secretariat.handover"))


@view_config(
    route_name="secretariat.handover_job",
    renderer="json",
    permission=P.SECRETARIAT_HANDOVER_RUN,
    request_method="GET",
)
def handover_progress(request):
    request.response.cache_control = "no-store"
    job = jobs.read(request.db, request.matchdict["job"], handover_only=True)
    return job_json(request, job, "handover")


@view_config(
    route_name="secretariat.handover_download",
    permission=P.SECRETARIAT_HANDOVER_RUN,
    request_method="GET",
)
def handover_download(request):
    job, chunks = jobs.chunks(request.db, request.matchdict["job"], handover_only=True)
    return stream_response(job, chunks)


@view_config(
    route_name="secretariat.erasure_request",
    permission=P.SECRETARIAT_HANDOVER_RUN,
    request_method="POST",
)
def erasure_request(request):
    try:
        row = handover.request_erasure(request.db, request.clock, actor=request.identity.actor)
    except DomainError as exc:
        return _page(request, exc.message, exc.status)
    request.session.flash(f"個人情報の消去を依頼しました(No.{row.id})。市の承認を待ちます。")
    return HTTPFound(request.route_url("secretariat.handover"))
