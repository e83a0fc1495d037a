"""The secretariat's store screens (S-1, P-7): import the city's Excel list (upload, preview,
confirm), the template and the error workbook, the store list, a store's page with its history
and its registration steps.

The uploaded file waits on the server (kariya.store_import_dir) under a random id kept in the
signed session between the preview and the confirmation; the browser never sends it back.
"""

from __future__ import annotations

import os

from pyramid.httpexceptions import HTTPFound
from pyramid.renderers import render_to_response
from pyramid.response import Response
from pyramid.view import view_config

from kariya.errors import Conflict, DomainError, Invalid, NotFound
from kariya.security import P
from kariya.stores import admin
from kariya.stores.importer import applying, columns, planning, reading, uploads, workbooks

SESSION_KEY = "store_import"


def xlsx_response(data: bytes, filename: str) -> Response:
    return Response(
        body=data,
        content_type=reading.XLSX,
        content_disposition=f'attachment; filename="{filename}"',
        cache_control="no-store",
    )


def _page(request, template: str, values: dict, status: int) -> Response:
    response = render_to_response(template, values, request=request)
    response.status = status  # 4xx: the transaction is aborted, nothing written
    return response


# --- the list and a store's page ----------------------------------------------------------------


@view_config(
    route_name="secretariat.stores",
    renderer="secretariat/stores.jinja2",
    permission=P.SECRETARIAT_STORES_VIEW,
    request_method="GET",
)
def index(request):
    q = request.params.get("q", "")[:100]
    state = request.params.get("state", "")
    try:
        page = int(request.params.get("page", "1"))
    except ValueError:
        page = 1
    return {
        "q": q,
        "state": state,
        "result": admin.search(request.db, q=q, state=state, page=page),
        "states": admin.states(),
        "state_label": admin.state_label,
        "area_label": lambda code: columns.display("area", code),
    }


def _store_page(request, store, error: str | None = None, reason: str = "") -> dict:
    return {
        "store": store,
        "history": admin.history(request.db, store),
        "events": admin.events_from(store.state),
        "dangerous": admin.DANGEROUS,
        "state_label": admin.state_label,
        "event_label": admin.event_label,
        "area_label": lambda code: columns.display("area", code),
        "error": error,
        "reason": reason,
    }


@view_config(
    route_name="secretariat.store",
    renderer="secretariat/stores_detail.jinja2",
    permission=P.SECRETARIAT_STORES_VIEW,
    request_method="GET",
)
def show(request):
    return _store_page(request, admin.get(request.db, request.matchdict["code"]))


@view_config(
    route_name="secretariat.store_transition",
    permission=P.SECRETARIAT_STORES_EDIT,
    request_method="POST",
)
def transition(request):
    store = admin.get(request.db, request.matchdict["code"])
    event = request.POST.get("event", "")
    reason = request.POST.get("reason", "")
    try:
        state = admin.transition(
            request.db, request.clock, store, event, actor=request.identity.actor, reason=reason
        )
    except DomainError as exc:
        request.db.expire(store)  # show the state as stored, not as attempted
        return _page(
            request,
            "secretariat/stores_detail.jinja2",
            _store_page(request, store, exc.message, reason),
            exc.status,
        )
    message = f"店舗「{store.name}」を「{admin.state_label(state)}」にしました。"
    if event == "activate":
        message += "QRコードを発行しました。掲示物をダウンロードしてお届けください。"
    request.session.flash(message)
    return HTTPFound(request.route_url("secretariat.store", code=store.code))


# --- the template -------------------------------------------------------------------------------


@view_config(
    route_name="secretariat.stores_template",
    permission=P.SECRETARIAT_STORES_VIEW,
    request_method="GET",
)
def template(request):
    return xlsx_response(workbooks.template_workbook(), "store_template.xlsx")


# --- the import: upload, preview, confirm -------------------------------------------------------


def _pending(request) -> dict | None:
    pending = request.session.get(SESSION_KEY)
    return pending if isinstance(pending, dict) else None


@view_config(
    route_name="secretariat.stores_import",
    renderer="secretariat/stores_import.jinja2",
    permission=P.SECRETARIAT_STORES_IMPORT,
    request_method="GET",
)
def upload_form(request):
    return {"error": None, "pending": _pending(request), "limits": _limits()}


def _limits() -> dict:
    return {
        "mb": reading.MAX_BYTES // (1024 * 1024),
        "rows": reading.MAX_ROWS,
        "headers": columns.HEADERS,
    }


@view_config(
    route_name="secretariat.stores_import",
    permission=P.SECRETARIAT_STORES_IMPORT,
    request_method="POST",
)
def upload(request):
    upload = request.POST.get("file")
    try:
        if getattr(upload, "file", None) is None:
            raise Invalid("取り込むExcelファイルを選んでください。", code="NO_FILE")
        data = upload.file.read(reading.MAX_BYTES + 1)
        upload_id = uploads.receive(request.registry.settings, data)
    except DomainError as exc:
        return _page(
            request,
            "secretariat/stores_import.jinja2",
            {"error": exc.message, "pending": _pending(request), "limits": _limits()},
            exc.status,
        )
    previous = _pending(request)
    if previous:
        uploads.discard_upload(request.registry.settings, previous.get("id", ""))
    filename = os.path.basename((upload.filename or "").replace("\\", "/"))[:200]
    request.session[SESSION_KEY] = {"id": upload_id, "filename": filename}
    return HTTPFound(request.route_url("secretariat.stores_import_preview"))


def _preview_page(request, pending: dict, report, error=None, errors=()) -> dict:
    return {
        "pending": pending,
        "report": report,
        "error": error,
        "errors": list(errors),
        "display": columns.display,
        "area_label": lambda code: columns.display("area", code),
    }


@view_config(
    route_name="secretariat.stores_import_preview",
    renderer="secretariat/stores_preview.jinja2",
    permission=P.SECRETARIAT_STORES_IMPORT,
    request_method="GET",
)
def preview(request):
    pending = _pending(request)
    try:
        if pending is None:
            raise NotFound(uploads.UPLOAD_GONE, code="UPLOAD_NOT_FOUND")
        data = uploads.read_upload(request.registry.settings, pending.get("id", ""))
    except NotFound as exc:
        request.session.pop(SESSION_KEY, None)
        request.session.flash(exc.message)
        return HTTPFound(request.route_url("secretariat.stores_import"))
    report = planning.preview(request.db, data, filename=pending.get("filename", ""))
    return _preview_page(request, pending, report)


@view_config(
    route_name="secretariat.stores_import_apply",
    permission=P.SECRETARIAT_STORES_IMPORT,
    request_method="POST",
)
def apply(request):
    settings = request.registry.settings
    pending = _pending(request)
    if pending is None:
        raise NotFound(uploads.UPLOAD_GONE, code="UPLOAD_NOT_FOUND")
    if request.POST.get("upload") != pending.get("id"):
        raise Conflict(
            "別の画面で新しいファイルがアップロードされています。確認画面を開き直してください。",
            code="UPLOAD_CHANGED",
        )
    data = uploads.read_upload(settings, pending["id"])
    try:
        report = applying.apply(
            request.db,
            request.clock,
            data,
            actor=request.identity.actor,
            activate=request.POST.get("activate") == "1",
            filename=pending.get("filename", ""),
        )
    except DomainError as exc:
        report = planning.preview(request.db, data, filename=pending.get("filename", ""))
        page = _preview_page(
            request,
            pending,
            report,
            exc.message,
            exc.details if isinstance(exc.details, list) else (),
        )
        return _page(request, "secretariat/stores_preview.jinja2", page, exc.status)
    upload_id = pending["id"]
    request.tm.get().addAfterCommitHook(
        lambda ok: ok and uploads.discard_upload(settings, upload_id)
    )
    request.session.pop(SESSION_KEY, None)
    message = f"店舗一覧を取り込みました。{report.summary()}"
    if report.activated:
        message += " " + report.activation_summary()
    if report.not_activated:
        message += " " + " ".join(report.not_activated)
    request.session.flash(message)
    return HTTPFound(request.route_url("secretariat.stores"))


@view_config(
    route_name="secretariat.stores_import_cancel",
    permission=P.SECRETARIAT_STORES_IMPORT,
    request_method="POST",
)
def cancel(request):
    pending = request.session.pop(SESSION_KEY, None)
    if isinstance(pending, dict):
        uploads.discard_upload(request.registry.settings, pending.get("id", ""))
    request.session.flash("取り込みを取りやめました。何も登録していません。")
    return HTTPFound(request.route_url("secretariat.stores_import"))


@view_config(
    route_name="secretariat.stores_import_errors",
    permission=P.SECRETARIAT_STORES_IMPORT,
    request_method="GET",
)
def error_workbook(request):
    pending = _pending(request)
    if pending is None:
        raise NotFound(uploads.UPLOAD_GONE, code="UPLOAD_NOT_FOUND")
    data = uploads.read_upload(request.registry.settings, pending.get("id", ""))
    return xlsx_response(workbooks.errors_xlsx(request.db, data), "store_import_errors.xlsx")
