"""The secretariat's printed materials (S-2): build every active store's set in the background
with a live progress bar, download the ZIP, download one store's set, reissue a store's QR."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPFound
from pyramid.response import Response
from pyramid.view import view_config

from kariya.campaign import definition
from kariya.errors import DomainError, Invalid
from kariya.materials import jobs as material_jobs
from kariya.materials import sets
from kariya.security import P
from kariya.stores import lookup, registration


def zip_response(data: bytes, name: str) -> Response:
    return Response(
        body=data,
        content_type="application/zip",
        content_disposition=f'attachment; filename="{name}"',
        cache_control="no-store",
    )


def job_values(request, job: material_jobs.JobStatus) -> dict:
    return {
        "id": job.id,
        "state": job.state,
        "state_label": job.state_label,
        "done": job.done,
        "total": job.total,
        "percent": job.percent,
        "size": job.size,
        "message": job.message,
        "requested_by": job.requested_by,
        "requested_at": job.requested_at,
        "finished_at": job.finished_at,
        "manual_version": job.manual_version,
        "out_of_date": job.out_of_date,
        "download_url": request.route_url("secretariat.materials_download", job=job.id)
        if job.downloadable
        else None,
    }


def _page(request, error: str | None = None, status: int = 200) -> dict:
    request.response.status = status
    statuses = material_jobs.recent(request.db)
    jobs = [job_values(request, job) for job in statuses]
    return {
        "campaign": definition.latest(request.db),
        "active_count": sets.count_active(request.db),
        "jobs": jobs,
        "current": jobs[0] if jobs else None,
        "building": bool(statuses and statuses[0].unfinished),
        "error": error,
        "pieces": sets.PIECES,
    }


@view_config(
    route_name="secretariat.materials",
    renderer="secretariat/materials.jinja2",
    permission=P.SECRETARIAT_MATERIALS_VIEW,
    request_method="GET",
)
def show(request):
    return _page(request)


@view_config(
    route_name="secretariat.materials_build",
    renderer="secretariat/materials.jinja2",
    permission=P.SECRETARIAT_MATERIALS_BUILD,
    request_method="POST",
)
def build(request):
    try:
        job = material_jobs.start_job(
            request.db, request.kariya_settings, actor=request.identity.actor
        )
    except DomainError as exc:
        return _page(request, exc.message, exc.status)
    request.enqueue("kariya.materials.build_all", job.id)
    request.session.flash(f"{job.total}店舗分の掲示物の作成を開始しました。")
    return HTTPFound(request.route_url("secretariat.materials"))


@view_config(
    route_name="secretariat.materials_job",
    renderer="json",
    permission=P.SECRETARIAT_MATERIALS_VIEW,
    request_method="GET",
)
def job_progress(request):
    job = job_values(request, material_jobs.read(request.db, request.matchdict["job"]))
    for key in ("requested_at", "finished_at"):
        job[key] = job[key].isoformat() if job[key] else None
    request.response.cache_control = "no-store"
    return job


@view_config(
    route_name="secretariat.materials_download",
    permission=P.SECRETARIAT_MATERIALS_VIEW,
    request_method="GET",
)
def download(request):
    job, chunks = material_jobs.zip_chunks(request.db, request.matchdict["job"])
    return Response(
        app_iter=chunks,
        content_type="application/zip",
        content_length=job.size,
        content_disposition=f'attachment; filename="kariya_materials_{job.id}.zip"',
        cache_control="no-store",
    )


@view_config(
    route_name="secretariat.materials_store",
    permission=P.SECRETARIAT_MATERIALS_VIEW,
    request_method="GET",
)
def store_lookup(request):
    """The page's "one store" form: on to that store's ZIP."""
    code = request.params.get("code", "").strip()
    if not code:
        raise Invalid("店舗コードを入力してください。")
    return HTTPFound(request.route_url("secretariat.store_materials", code=code))


@view_config(
    route_name="secretariat.store_materials",
    permission=P.SECRETARIAT_MATERIALS_VIEW,
    request_method="GET",
)
def store_set(request):
    store = lookup.get(request.db, request.matchdict["code"])
    data = sets.store_zip(request.db, request.kariya_settings, store, now=request.clock.now())
    return zip_response(data, sets.zip_name(store))


@view_config(
    route_name="secretariat.store_qr_reissue",
    renderer="secretariat/materials.jinja2",
    permission=P.SECRETARIAT_STORE_QR_REISSUE,
    request_method="POST",
)
def reissue_qr(request):
    code = request.POST.get("code", "").strip()
    try:
        if not code:
            raise Invalid("店舗コードを入力してください。")
        store = lookup.get(request.db, code)
        registration.reissue(
            request.db,
            request.clock,
            store,
            actor=request.identity.actor,
            reason=request.POST.get("reason", ""),
        )
    except DomainError as exc:
        # Nothing written: a 4xx answer aborts the transaction.
        return _page(request, exc.message, exc.status)
    request.session.flash(
        f"店舗「{store.name}」のQRコードを再発行しました。以前のQRコードは使えません。"
        "新しい掲示物をダウンロードしてお届けください。"
    )
    return HTTPFound(request.route_url("secretariat.materials"))
