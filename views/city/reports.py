"""The city's view (C-1..C-3, D-2): the dashboard with its charts, a store's uses, the data
exports (a job with progress), the status and final reports, and the hand-over with the erasure
the city approves. The secretariat shows the same dashboard (views/secretariat/reports.py)."""

from __future__ import annotations

import datetime as dt

from markupsafe import Markup
from pyramid.httpexceptions import HTTPFound
from pyramid.renderers import render_to_response
from pyramid.response import Response
from pyramid.view import view_config

from kariya.errors import DomainError
from kariya.redemptions import uses
from kariya.reports import charts, dashboard, exports, handover, jobs, printing, status
from kariya.security import P
from kariya.stores import admin, lookup
from workflows import reports as reports_wf
from workflows.binding import label

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TYPES = {"xlsx": XLSX, "pdf": "application/pdf", "csv": "text/csv", "zip": "application/zip"}


def file_response(data: bytes, name: str, ext: str) -> Response:
    return Response(
        body=data,
        content_type=TYPES[ext],
        content_disposition=f'attachment; filename="{name}"',
        cache_control="no-store",
    )


def stream_response(job: jobs.JobStatus, chunks) -> Response:
    return Response(
        app_iter=chunks,
        content_type=TYPES.get(job.format, "application/octet-stream"),
        content_length=job.size,
        content_disposition=f'attachment; filename="{job.filename}"',
        cache_control="no-store",
    )


def dashboard_page(request, role: str) -> dict:
    """The dashboard's values for either role (templates/common/dashboard.jinja2)."""
    data = dashboard.snapshot(
        request.db, request.clock, dashboard.max_age_of(request.kariya_settings)
    )
    if data is None:
        return {"data": None, "role": role}
    sort = request.params.get("sort", "code")
    order = request.params.get("dir")
    descending = None if order not in ("asc", "desc") else order == "desc"
    as_of = dt.datetime.fromisoformat(data["as_of"])
    return {
        "data": data,
        "role": role,
        "charts": {c.key: Markup(charts.svg(c)) for c in charts.all_of(data)},
        "stores": dashboard.sorted_stores(data, sort, descending),
        "sort": sort if sort in dashboard.SORTS else "code",
        "descending": dashboard.SORTS.get(sort, False) if descending is None else descending,
        "as_of": as_of,
    }


@view_config(
    route_name="city.dashboard",
    renderer="common/dashboard.jinja2",
    permission=P.STAFF_DASHBOARD_VIEW,
    request_method="GET",
)
def show_dashboard(request):
    return dashboard_page(request, "city")


@view_config(
    route_name="city.dashboard_refresh", permission=P.STAFF_DASHBOARD_VIEW, request_method="POST"
)
def refresh_dashboard(request):
    dashboard.refresh(request.db, request.clock)
    request.session.flash("集計を最新の状態に更新しました。")
    return HTTPFound(request.route_url(request.matched_route.name.replace("_refresh", "")))


@view_config(
    route_name="city.store_uses",
    renderer="city/store_uses.jinja2",
    permission=P.STAFF_DASHBOARD_VIEW,
    request_method="GET",
)
def store_uses(request):
    store = lookup.get(request.db, request.matchdict["code"])
    return {
        "store": store,
        "uses": uses.of_store(request.db, request.clock, store.id),
        "state_label": admin.state_label,
    }


# --- exports -----------------------------------------------------------------------------------


JOB_ROUTES = {  # progress and download, per page
    "exports": ("city.export_job", "city.export_download"),
    "handover": ("secretariat.handover_job", "secretariat.handover_download"),
}


def job_json(request, job: jobs.JobStatus, page: str) -> dict:
    progress_route, download_route = JOB_ROUTES[page]
    return {
        "id": job.id,
        "kind": job.kind,
        "title": job.title,
        "state": job.state,
        "state_label": job.state_label,
        "done": job.done,
        "total": job.total,
        "percent": job.percent,
        "size": job.size,
        "sha256": job.sha256,
        "message": job.message,
        "problems": job.problems,
        "requested_by": job.requested_by,
        "requested_at": job.requested_at.isoformat(),
        "format": job.format,
        "encoding": job.encoding,
        "progress_url": request.route_url(progress_route, job=job.id),
        "download_url": request.route_url(download_route, job=job.id) if job.downloadable else None,
    }


def _exports_page(request, error: str | None = None, status_code: int = 200):
    values = {
        "kinds": [(name, exports.KINDS.get(name)) for name in exports.OFFERED],
        "jobs": [job_json(request, j, "exports") for j in jobs.recent(request.db)],
        "error": error,
    }
    response = render_to_response("city/exports.jinja2", values, request=request)
    response.status = status_code
    return response


@view_config(route_name="city.exports", permission=P.CITY_EXPORTS_RUN, request_method="GET")
def exports_index(request):
    return _exports_page(request)


@view_config(route_name="city.exports_start", permission=P.CITY_EXPORTS_RUN, request_method="POST")
def exports_start(request):
    try:
        job = jobs.start(
            request.db,
            request.clock,
            kind=request.POST.get("kind", ""),
            fmt=request.POST.get("format", "xlsx"),
            encoding=request.POST.get("encoding", "utf-8-sig"),
            actor=request.identity.actor,
            role=request.identity.role,
        )
    except DomainError as exc:
        return _exports_page(request, exc.message, exc.status)
    request.enqueue("kariya.reports.export", job.id)
    request.session.flash(f"「{jobs.title_of(job.kind)}」の出力を開始しました。")
    return HTTPFound(request.route_url("city.exports"))


@view_config(
    route_name="city.export_job",
    renderer="json",
    permission=P.CITY_EXPORTS_RUN,
    request_method="GET",
)
def export_progress(request):
    request.response.cache_control = "no-store"
    job = jobs.read(request.db, request.matchdict["job"], handover_only=False)
    return job_json(request, job, "exports")


@view_config(route_name="city.export_download", permission=P.CITY_EXPORTS_RUN, request_method="GET")
def export_download(request):
    job, chunks = jobs.chunks(request.db, request.matchdict["job"], handover_only=False)
    return stream_response(job, chunks)


# --- reports -----------------------------------------------------------------------------------


@view_config(
    route_name="city.reports",
    renderer="city/reports.jinja2",
    permission=P.CITY_REPORTS_VIEW,
    request_method="GET",
)
def reports_index(request):
    data = dashboard.snapshot(request.db, request.clock)
    return {"stored": status.stored(request.db), "rounds": data["rounds"] if data else []}


@view_config(route_name="city.report_weekly", permission=P.CITY_REPORTS_VIEW, request_method="GET")
def report_weekly(request):
    number, ext = int(request.matchdict["round"]), request.matchdict["ext"]
    try:
        kept = status.get_stored(request.db, number)
        data = kept.xlsx if ext == "xlsx" else kept.pdf
    except DomainError:
        data = printing.render(status.build(request.db, request.clock, round_number=number), ext)
    return file_response(data, f"kariya_status_report_round{number}.{ext}", ext)


@view_config(route_name="city.report_final", permission=P.CITY_REPORTS_VIEW, request_method="GET")
def report_final(request):
    ext = request.matchdict["ext"]
    data = printing.render(status.build(request.db, request.clock), ext)
    return file_response(data, f"kariya_final_report.{ext}", ext)


# --- the hand-over and the erasure the city approves -----------------------------------------------


def erasure_values(request) -> dict:
    return {
        "handover": jobs.latest_handover(request.db),
        "erasures": handover.erasures(request.db),
        "erasure_label": lambda s: label(reports_wf.ERASURE, s),
    }


@view_config(
    route_name="city.handover",
    renderer="city/handover.jinja2",
    permission=P.CITY_HANDOVER_DECIDE,
    request_method="GET",
)
def handover_index(request):
    return erasure_values(request)


@view_config(
    route_name="city.handover_download", permission=P.CITY_HANDOVER_DECIDE, request_method="GET"
)
def handover_download(request):
    job, chunks = jobs.chunks(request.db, request.matchdict["job"], handover_only=True)
    return stream_response(job, chunks)


@view_config(
    route_name="city.erasure_decide", permission=P.CITY_HANDOVER_DECIDE, request_method="POST"
)
def erasure_decide(request):
    row = handover.get_erasure(request.db, request.matchdict["id"])
    approve = request.matchdict["action"] == "approve"
    try:
        handover.decide(
            request.db,
            request.clock,
            row,
            approve=approve,
            actor=request.identity.actor,
            reason=request.POST.get("reason", ""),
        )
    except DomainError as exc:
        request.db.expire_all()
        response = render_to_response(
            "city/handover.jinja2",
            {**erasure_values(request), "error": exc.message},
            request=request,
        )
        response.status = exc.status
        return response
    request.session.flash(f"消去の依頼 No.{row.id} を{'承認' if approve else '不承認に'}しました。")
    return HTTPFound(request.route_url("city.handover"))
