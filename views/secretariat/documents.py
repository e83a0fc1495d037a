"""The secretariat's documents (C-4, Q-3, S-3, D-1): the list, one document with every version's
history, the editor with its live preview, and the steps the secretariat takes (submit to the
city, publish once approved). The rules are kariya.documents.versions'."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPFound
from pyramid.renderers import render_to_response
from pyramid.view import view_config

from kariya.documents import kinds, placeholders, reading, versions
from kariya.errors import DomainError
from kariya.security import P


def _overview(request) -> dict:
    return {"documents": versions.overview(request.db), "label": versions.state_label}


@view_config(
    route_name="secretariat.documents",
    renderer="secretariat/documents.jinja2",
    permission=P.SECRETARIAT_DOCUMENTS_EDIT,
    request_method="GET",
)
def index(request):
    return _overview(request)


@view_config(
    route_name="secretariat.document",
    renderer="secretariat/document.jinja2",
    permission=P.SECRETARIAT_DOCUMENTS_EDIT,
    request_method="GET",
)
def document(request):
    kind = request.matchdict["kind"]
    every = versions.history(request.db, kind)
    return {
        "kind": kinds.get(kind),
        "published": versions.published(request.db, kind),
        "unpublished": versions.unpublished(request.db, kind),
        "history": every,
        "events": versions.events_of(request.db, every),
        "label": versions.state_label,
    }


def _editor(request, kind: str, form: dict, *, version=None, problems=(), status: int = 200):
    """The editor page (new version or a draft's edit), with the preview and the placeholders."""
    facts = request.document_facts
    response = render_to_response(
        "secretariat/document_editor.jinja2",
        {
            "kind": kinds.get(kind),
            "version": version,
            "form": form,
            "problems": problems,
            "preview": reading.preview(form["body"], facts) if form["body"].strip() else "",
            "placeholders": placeholders.catalogue(facts),
            "published": versions.published(request.db, kind),
        },
        request=request,
    )
    response.status = status  # a 4xx answer aborts the transaction: nothing saved
    return response


def _form(request) -> dict:
    return {
        "body": request.POST.get("body", ""),
        "change_note": request.POST.get("change_note", ""),
    }


@view_config(
    route_name="secretariat.document_new",
    permission=P.SECRETARIAT_DOCUMENTS_EDIT,
    request_method="GET",
)
def new_form(request):
    """A new version starts from the published text, or from an older version's (`from`)."""
    kind = request.matchdict["kind"]
    source = request.params.get("from", "")
    start = (
        versions.version(request.db, kind, source)
        if source
        else versions.published(request.db, kind)
    )
    note = f"第{start.number}版の本文から作成" if source and start else ""
    return _editor(request, kind, {"body": start.body if start else "", "change_note": note})


@view_config(
    route_name="secretariat.document_new",
    permission=P.SECRETARIAT_DOCUMENTS_EDIT,
    request_method="POST",
)
def create(request):
    kind = request.matchdict["kind"]
    form = _form(request)
    if request.POST.get("action") == "preview":
        return _editor(request, kind, form)
    try:
        ver = versions.create(request.db, request.clock, kind, **form, actor=request.identity.actor)
    except DomainError as exc:
        problems = exc.details if isinstance(exc.details, list) else [exc.message]
        return _editor(request, kind, form, problems=problems, status=exc.status)
    request.session.flash(f"第{ver.number}版を下書きとして保存しました。")
    return HTTPFound(
        request.route_url("secretariat.document_version", kind=kind, number=ver.number)
    )


@view_config(
    route_name="secretariat.document_edit",
    permission=P.SECRETARIAT_DOCUMENTS_EDIT,
    request_method="GET",
)
def edit_form(request):
    kind = request.matchdict["kind"]
    ver = versions.version(request.db, kind, request.matchdict["number"])
    return _editor(request, kind, {"body": ver.body, "change_note": ver.change_note}, version=ver)


@view_config(
    route_name="secretariat.document_edit",
    permission=P.SECRETARIAT_DOCUMENTS_EDIT,
    request_method="POST",
)
def edit(request):
    kind = request.matchdict["kind"]
    ver = versions.version(request.db, kind, request.matchdict["number"])
    form = _form(request)
    if request.POST.get("action") == "preview":
        return _editor(request, kind, form, version=ver)
    try:
        versions.edit(request.db, request.clock, ver, **form, actor=request.identity.actor)
    except DomainError as exc:
        problems = exc.details if isinstance(exc.details, list) else [exc.message]
        return _editor(request, kind, form, version=ver, problems=problems, status=exc.status)
    request.session.flash(f"第{ver.number}版を保存しました。")
    return HTTPFound(
        request.route_url("secretariat.document_version", kind=kind, number=ver.number)
    )


@view_config(
    route_name="secretariat.document_preview",
    renderer="secretariat/document_preview.jinja2",
    permission=P.SECRETARIAT_DOCUMENTS_EDIT,
    request_method="POST",
)
def preview(request):
    """The editor's live preview (the page's script posts the text as it is typed)."""
    body = request.POST.get("body", "")
    try:
        versions.validate(body, "preview")
        problems = []
    except DomainError as exc:
        problems = exc.details if isinstance(exc.details, list) else [exc.message]
    request.response.cache_control = "no-store"
    return {"preview": reading.preview(body, request.document_facts), "problems": problems}


@view_config(
    route_name="secretariat.document_version",
    renderer="secretariat/document_version.jinja2",
    permission=P.SECRETARIAT_DOCUMENTS_EDIT,
    request_method="GET",
)
def show_version(request):
    kind = request.matchdict["kind"]
    review = reading.review(
        request.db, kind, request.matchdict["number"], request.document_facts, request.clock.now()
    )
    return {"review": review, "label": versions.state_label, "error": None}


@view_config(
    route_name="secretariat.document_event",
    permission=P.SECRETARIAT_DOCUMENTS_EDIT,
    request_method="POST",
)
def event(request):
    """submit or publish (approve and request_changes are the city's: refused here)."""
    kind = request.matchdict["kind"]
    ver = versions.version(request.db, kind, request.matchdict["number"])
    name = request.POST.get("event", "")
    try:
        outcome = versions.act(
            request.db,
            request.clock,
            ver,
            name,
            actor=request.identity.actor,
            role=request.identity.role,
            note=request.POST.get("note", ""),
            settings=request.kariya_settings,
        )
    except DomainError as exc:
        review = reading.review(
            request.db, kind, ver.number, request.document_facts, request.clock.now()
        )
        response = render_to_response(
            "secretariat/document_version.jinja2",
            {"review": review, "label": versions.state_label, "error": exc.message},
            request=request,
        )
        response.status = exc.status
        return response
    if outcome.notice is not None:
        request.enqueue("kariya.mail.send")
    request.session.flash(_done(kind, ver.number, name, outcome))
    return HTTPFound(
        request.route_url("secretariat.document_version", kind=kind, number=ver.number)
    )


def _done(kind: str, number: int, name: str, outcome: versions.Outcome) -> str:
    if name == "submit":
        return f"第{number}版を市に承認申請しました。"
    message = f"第{number}版を公開しました。"
    if outcome.notice is not None:
        message += (
            "全登録店にお知らせを送りました。作成済みの掲示物(全店舗分)は古い版のマニュアルの"
            "ままです。掲示物の画面から作成し直してください。"
        )
    elif kind == kinds.TERMS:
        message += "市民の皆さまには、次に割引券を受け取る前に新しい内容への同意をお願いします。"
    return message
