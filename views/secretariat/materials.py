"""The secretariat's printed materials (S-2): build every active store's set in the background
with a live progress bar, download the ZIP, download one store's set, reissue a store's QR."""

from __future__ import annotations

import datetime as dt

from pyramid.httpexceptions import HTTPFound
from pyramid.response import FileResponse, Response
from pyramid.view import view_config

from kariya.campaign import definition
from kariya.errors import DomainError, Invalid
from kariya.materials import jobs as material_jobs
from kariya.materials import sets
from kariya.security import P
from kariya.stores import registration

STATE_LABELS = {
    "queued": "開始待ち",
    "running": "作成中",
    "done": "完了",
    "failed": "失敗",
}


def zip_response(data: bytes, name: str) -> Response:
    return Response(
        body=data,
        content_type="application/zip",
        content_disposition=f'attachment; filename="{name}"',
        cache_control="no-store",
    )


def job_json(request, job: dict) -> dict:
    total = job.get("total") or 0
    done = job.get("done") or 0
    state = job["state"]
    if state in ("queued", "running") and not material_jobs.is_unfinished(job):
        state = "failed"  # silent for too long: the worker stopped
    return {
        "id": job["id"],
        "state": state,
        "state_label": STATE_LABELS.get(state, state),
        "done": done,
        "total": total,
        "percent": 100 if state == "done" else (done * 100 // total if total else 0),
        "size": job.get("size"),
        "message": job.get("message")
        or ("作成が途中で止まりました。もう一度作成してください。" if state == "failed" else None),
        "requested_by": job.get("requested_by"),
        "requested_at": job.get("requested_at"),
        "finished_at": job.get("finished_at"),
        "download_url": request.route_url("secretariat.materials_download", job=job["id"])
        if state == "done"
        else None,
    }


def _page(request, error: str | None = None, status: int = 200) -> dict:
    request.response.status = status
    jobs = [job_json(request, job) for job in material_jobs.recent_jobs(request.registry.settings)]
    for job in jobs:
        for key in ("requested_at", "finished_at"):
            job[key] = dt.datetime.fromisoformat(job[key]) if job[key] else None
    current = jobs[0] if jobs else None
    return {
        "campaign": definition.latest(request.db),
        "active_count": sets.count_active(request.db),
        "jobs": jobs,
        "current": current,
        "building": bool(current and current["state"] in ("queued", "running")),
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
            request.db, request.registry.settings, actor=request.identity.actor
        )
    except DomainError as exc:
        return _page(request, exc.message, exc.status)
    request.enqueue("kariya.materials.build_all", job["id"])
    request.session.flash(f"{job['total']}店舗分の掲示物の作成を開始しました。")
    return HTTPFound(request.route_url("secretariat.materials"))


@view_config(
    route_name="secretariat.materials_job",
    renderer="json",
    permission=P.SECRETARIAT_MATERIALS_VIEW,
    request_method="GET",
)
def job_progress(request):
    job = material_jobs.read_job(request.registry.settings, request.matchdict["job"])
    request.response.cache_control = "no-store"
    return job_json(request, job)


@view_config(
    route_name="secretariat.materials_download",
    permission=P.SECRETARIAT_MATERIALS_VIEW,
    request_method="GET",
)
def download(request):
    job_id = request.matchdict["job"]
    path = material_jobs.zip_path(request.registry.settings, job_id)
    response = FileResponse(str(path), request=request, content_type="application/zip")
    response.content_disposition = f'attachment; filename="kariya_materials_{job_id}.zip"'
    return response


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
    store = sets.find_store(request.db, request.matchdict["code"])
    data = sets.store_zip(request.db, request.registry.settings, store, now=request.clock.now())
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
        store = sets.find_store(request.db, code)
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
