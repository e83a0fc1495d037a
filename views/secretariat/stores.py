"""The secretariat's store screens (S-1, P-7): import the city's Excel list (upload, preview,
confirm), the template and the error workbook, the store list, a store's page with its history
and its registration steps, and the notices to the stores (S-4).

The uploaded file waits in the database (kariya.stores.importer.uploads) under a random token
kept in the signed session between the preview and the confirmation; the browser never sends the
file back. The rules are in kariya.stores.admin and kariya.stores.importer.upload_flow.
"""

from __future__ import annotations

from pyramid.httpexceptions import HTTPFound
from pyramid.renderers import render_to_response
from pyramid.response import Response
from pyramid.view import view_config

from kariya.errors import DomainError, NotFound
from kariya.security import P
from kariya.stores import admin, notices
from kariya.stores.importer import columns, reading, upload_flow, workbooks
from workflows import mail as mail_wf
from workflows.binding import label

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


def _store_page(request, code: str, error: str | None = None, reason: str = "") -> dict:
    return {
        **admin.detail(request.db, code),
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
    return _store_page(request, request.matchdict["code"])


@view_config(
    route_name="secretariat.store_transition",
    permission=P.SECRETARIAT_STORES_EDIT,
    request_method="POST",
)
def transition(request):
    code = request.matchdict["code"]
    reason = request.POST.get("reason", "")
    try:
        message = admin.take_step(
            request.db,
            request.clock,
            code,
            request.POST.get("event", ""),
            actor=request.identity.actor,
            reason=reason,
        )
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        return _page(
            request,
            "secretariat/stores_detail.jinja2",
            _store_page(request, code, exc.message, reason),
            exc.status,
        )
    request.session.flash(message)
    return HTTPFound(request.route_url("secretariat.store", code=code))


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


def _token(request) -> str | None:
    return (_pending(request) or {}).get("id")


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
    field = request.POST.get("file")
    data = filename = None
    if getattr(field, "file", None) is not None:  # a file was chosen
        data, filename = field.file.read(reading.MAX_BYTES + 1), field.filename
    try:
        kept = upload_flow.receive(
            request.db,
            request.clock,
            data,
            filename,
            staff=request.identity.actor,
            replaces=_token(request),
        )
    except DomainError as exc:
        return _page(
            request,
            "secretariat/stores_import.jinja2",
            {"error": exc.message, "pending": _pending(request), "limits": _limits()},
            exc.status,
        )
    request.session[SESSION_KEY] = {"id": kept.token, "filename": kept.filename}
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
    try:
        report = upload_flow.preview(
            request.db, request.clock, _token(request), staff=request.identity.actor
        )
    except NotFound as exc:
        request.session.pop(SESSION_KEY, None)
        request.session.flash(exc.message)
        return HTTPFound(request.route_url("secretariat.stores_import"))
    return _preview_page(request, _pending(request), report)


@view_config(
    route_name="secretariat.stores_import_apply",
    permission=P.SECRETARIAT_STORES_IMPORT,
    request_method="POST",
)
def apply(request):
    try:
        report = upload_flow.confirm(
            request.db,
            request.clock,
            _token(request),
            request.POST.get("upload"),
            staff=request.identity.actor,
            activate=request.POST.get("activate") == "1",
        )
    except upload_flow.NotImported as failed:
        error = failed.error
        page = _preview_page(
            request,
            _pending(request),
            failed.report,
            error.message,
            error.details if isinstance(error.details, list) else (),
        )
        return _page(request, "secretariat/stores_preview.jinja2", page, error.status)
    request.session.pop(SESSION_KEY, None)
    request.session.flash(upload_flow.done_message(report))
    return HTTPFound(request.route_url("secretariat.stores"))


@view_config(
    route_name="secretariat.stores_import_cancel",
    permission=P.SECRETARIAT_STORES_IMPORT,
    request_method="POST",
)
def cancel(request):
    upload_flow.cancel(request.db, _token(request), staff=request.identity.actor)
    request.session.pop(SESSION_KEY, None)
    request.session.flash("取り込みを取りやめました。何も登録していません。")
    return HTTPFound(request.route_url("secretariat.stores_import"))


@view_config(
    route_name="secretariat.stores_import_errors",
    permission=P.SECRETARIAT_STORES_IMPORT,
    request_method="GET",
)
def error_workbook(request):
    data = upload_flow.error_workbook(
        request.db, request.clock, _token(request), staff=request.identity.actor
    )
    return xlsx_response(data, "store_import_errors.xlsx")


# Notices to stores (S-4): written with a confirmation step, shown in every store portal until
# read, mailed through the outbox.


def _notices_page(request, form=None, error=None, problems=(), preview=False) -> dict:
    return {
        "notices": notices.listing(request.db),
        "audience": notices.audience(request.db),
        "form": form or {"title": "", "body": ""},
        "error": error,
        "problems": problems,
        "preview": preview,
        "title_max": notices.TITLE_MAX,
        "body_max": notices.BODY_MAX,
    }


@view_config(
    route_name="secretariat.notices",
    renderer="secretariat/notices.jinja2",
    permission=P.SECRETARIAT_NOTICES_EDIT,
    request_method="GET",
)
def notice_index(request):
    return _notices_page(request)


@view_config(
    route_name="secretariat.notices",
    renderer="secretariat/notices.jinja2",
    permission=P.SECRETARIAT_NOTICES_EDIT,
    request_method="POST",
)
def notice_publish(request):
    """action=preview (the form's button): check and show the confirmation; action=back: edit
    again; action=publish (the confirmation's button): publish and mail."""
    form = {"title": request.POST.get("title", ""), "body": request.POST.get("body", "")}
    action = request.POST.get("action", "preview")
    try:
        if action != "publish":
            if action != "back":
                form["title"], form["body"] = notices.validate(form["title"], form["body"])
            return _notices_page(request, form, preview=action != "back")
        notice = notices.publish(
            request.db,
            request.clock,
            title=form["title"],
            body=form["body"],
            actor=request.identity.actor,
            settings=request.kariya_settings,
        )
    except DomainError as exc:
        problems = exc.details if isinstance(exc.details, list) else ()
        response = render_to_response(
            "secretariat/notices.jinja2",
            _notices_page(request, form, exc.message, problems),
            request=request,
        )
        response.status = exc.status  # the transaction aborts: no notice, no mail
        return response
    request.enqueue("kariya.mail.send")
    request.session.flash(
        f"お知らせ「{notice.title}」を全登録店に通知しました。メールを順に送信します。"
    )
    return HTTPFound(request.route_url("secretariat.notice", id=notice.id))


@view_config(
    route_name="secretariat.notice",
    renderer="secretariat/notice.jinja2",
    permission=P.SECRETARIAT_NOTICES_EDIT,
    request_method="GET",
)
def notice(request):
    return {
        **notices.detail(request.db, int(request.matchdict["id"])),
        "mail_label": lambda state: label(mail_wf.MACHINE, state),
    }


@view_config(
    route_name="secretariat.notice_retry",
    permission=P.SECRETARIAT_NOTICES_EDIT,
    request_method="POST",
)
def notice_retry(request):
    notice_id = int(request.matchdict["id"])
    count = notices.retry_failed(request.db, request.clock, notice_id, request.identity.actor)
    if count:
        request.enqueue("kariya.mail.send")
        request.session.flash(f"送信に失敗したメール {count} 通を再送します。")
    else:
        request.session.flash("送信に失敗したメールはありません。")
    return HTTPFound(request.route_url("secretariat.notice", id=notice_id))
