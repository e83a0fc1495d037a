"""The city's review of documents (C-4, Q-3): every document and its versions, and a version's
review page (the diff against the published version, by character; the text as read; the
history) where an approver approves or asks for changes with a reason. Nobody decides on a
version they wrote or submitted (kariya.documents.versions)."""

from pyramid.httpexceptions import HTTPFound
from pyramid.renderers import render_to_response
from pyramid.view import view_config

from kariya.documents import reading, versions
from kariya.errors import DomainError
from kariya.security import P


@view_config(
    route_name="city.documents",
    renderer="city/documents.jinja2",
    permission=P.CITY_DOCUMENTS_APPROVE,
    request_method="GET",
)
def index(request):
    return {
        "documents": versions.overview(request.db),
        "awaiting": reading.awaiting_review(request.db, request.clock.now()),
        "label": versions.state_label,
    }


def _review(request, error: str | None = None, status: int = 200):
    kind = request.matchdict["kind"]
    review = reading.review(
        request.db, kind, request.matchdict["number"], request.document_facts, request.clock.now()
    )
    response = render_to_response(
        "city/document_version.jinja2",
        {
            "review": review,
            "label": versions.state_label,
            "error": error,
            "reason": request.POST.get("note", "") if error else "",
        },
        request=request,
    )
    response.status = status
    return response


@view_config(
    route_name="city.document_version",
    permission=P.CITY_DOCUMENTS_APPROVE,
    request_method="GET",
)
def show_version(request):
    return _review(request)


@view_config(
    route_name="city.document_event",
    permission=P.CITY_DOCUMENTS_APPROVE,
    request_method="POST",
)
def decide(request):
    """approve, or request_changes with a reason."""
    kind = request.matchdict["kind"]
    ver = versions.version(request.db, kind, request.matchdict["number"])
    name = request.POST.get("event", "")
    try:
        versions.act(
            request.db,
            request.clock,
            ver,
            name,
            actor=request.identity.actor,
            role=request.identity.role,
            note=request.POST.get("note", ""),
        )
    except DomainError as exc:
        return _review(request, exc.message, exc.status)  # 4xx: nothing written
    request.session.flash(
        f"第{ver.number}版を承認しました。事務局が公開します。"
        if name == "approve"
        else f"第{ver.number}版の修正を事務局に依頼しました。"
    )
    return HTTPFound(request.route_url("city.home"))
