"""The documents' JSON calls (DESIGN.md section 5.2), with the rules of the staff pages
(kariya.documents.versions): the list, a document's versions, writing and editing a version,
its events (submit, approve, request_changes, publish), any store manual version as PDF, the
call-centre manual's sections (canned answers), and the published version of a document (the
terms for anyone, the others for staff). GET /staff/me, the staff session's CSRF token, is
views.api.staff's."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPForbidden
from pyramid.response import Response
from pyramid.view import view_config

from kariya.clock import to_jst
from kariya.documents import kinds, reading, versions
from kariya.errors import Conflict
from kariya.materials.context import PrintContext
from kariya.materials.manual import manual_pdf
from kariya.security import P
from views import inputs
from views.api.support import json_body

# A body of markdown.MAX_CHARS characters, each up to 4 bytes in UTF-8 and escaped in JSON,
# fits; a longer text is refused with a clear message (422), not cut off.
MAX_REQUEST = 4 * 1024 * 1024


VERSION_TEXT = {"body": inputs.text(), "change_note": inputs.text()}
EVENT = {"event": inputs.text(), "note": inputs.text()}


def _version_of(request):
    return versions.version(request.db, request.matchdict["kind"], request.matchdict["number"])


def _state(kind: str, ver) -> dict:
    return {"kind": kind, "version": ver.number, "state": ver.state}


@view_config(
    route_name="api.staff.documents",
    request_method="GET",
    renderer="json",
    permission=P.STAFF_DOCUMENTS_VIEW,
)
def list_documents(request):
    return {"documents": versions.overview(request.db)}


@view_config(
    route_name="api.staff.document_versions",
    request_method="GET",
    renderer="json",
    permission=P.STAFF_DOCUMENTS_VIEW,
)
def list_versions(request):
    kind = request.matchdict["kind"]
    return {
        "kind": kind,
        "versions": [reading.version_json(v, kind) for v in versions.history(request.db, kind)],
    }


@view_config(
    route_name="api.staff.document_versions",
    request_method="POST",
    renderer="json",
    permission=P.SECRETARIAT_DOCUMENTS_EDIT,
)
def create_version(request):
    kind = request.matchdict["kind"]
    text = inputs.fields(json_body(request, max_bytes=MAX_REQUEST), **VERSION_TEXT)
    ver = versions.create(request.db, request.clock, kind, **text, actor=request.identity.actor)
    request.response.status = 201
    return _state(kind, ver)


@view_config(
    route_name="api.staff.document_version",
    request_method="GET",
    renderer="json",
    permission=P.STAFF_DOCUMENTS_VIEW,
)
def show_version(request):
    kind = request.matchdict["kind"]
    review = reading.review(
        request.db, kind, request.matchdict["number"], request.document_facts, request.clock.now()
    )
    ver = review.version
    return {
        **reading.version_json(ver, kind),
        "body": ver.body,
        "html": str(review.reading.html),
        "compared_with": review.base.number if review.base is not None else None,
        "inserted": review.diff.inserted,
        "deleted": review.diff.deleted,
        "events": [
            {
                "at": to_jst(e.at).isoformat(),
                "actor": e.actor,
                "event": e.event,
                "from": e.from_state,
                "to": e.to_state,
                "note": e.reason,
            }
            for e in review.events.get(ver.id, [])
        ],
    }


@view_config(
    route_name="api.staff.document_version",
    request_method="PUT",
    renderer="json",
    permission=P.SECRETARIAT_DOCUMENTS_EDIT,
)
def edit_version(request):
    ver = _version_of(request)
    text = inputs.fields(json_body(request, max_bytes=MAX_REQUEST), **VERSION_TEXT)
    versions.edit(request.db, request.clock, ver, **text, actor=request.identity.actor)
    return _state(request.matchdict["kind"], ver)


@view_config(
    route_name="api.staff.document_events",
    request_method="POST",
    renderer="json",
    permission=P.STAFF_DOCUMENTS_VIEW,
)
def post_event(request):
    ver = _version_of(request)
    body = inputs.fields(json_body(request), **EVENT)
    outcome = versions.act(
        request.db,
        request.clock,
        ver,
        body["event"],
        actor=request.identity.actor,
        role=request.identity.role,
        note=body["note"],
        settings=request.kariya_settings,
    )
    if outcome.notice is not None:
        request.enqueue("kariya.mail.send")
    return _state(request.matchdict["kind"], ver)


@view_config(
    route_name="api.staff.store_manual_pdf",
    request_method="GET",
    permission=P.STAFF_DOCUMENTS_VIEW,
)
def store_manual_pdf(request):
    """Any version of the store manual, printed as the stores' sets carry the published one."""
    ver = versions.version(request.db, kinds.STORE_MANUAL, request.matchdict["number"])
    facts = request.document_facts
    if not isinstance(facts, PrintContext):
        raise Conflict(
            "キャンペーンが登録されていないため、マニュアルを作成できません。", code="NO_CAMPAIGN"
        )
    return Response(
        body=manual_pdf(facts, ver),
        content_type="application/pdf",
        content_disposition=f'inline; filename="store_manual_v{ver.number}.pdf"',
        cache_control="no-store",
    )


@view_config(
    route_name="api.staff.document_sections",
    request_method="GET",
    renderer="json",
    permission=P.STAFF_DOCUMENTS_VIEW,
)
def sections(request):
    """The published version's sections: {id, anchor, heading, text}; with `q`, the sections
    that match, with the matches marked in heading_html and text_html."""
    kind = request.matchdict["kind"]
    doc = reading.published(request.db, kind, request.document_facts)
    query = request.params.get("q", "")
    found = doc.sections
    answer = {"kind": kind, "version": doc.version.number, "q": query}
    if not query.strip():
        return {**answer, "sections": reading.sections_json(found)}
    hits = reading.search(found, query)
    return {
        **answer,
        "sections": [
            {
                **reading.sections_json([hit.section])[0],
                "heading_html": str(hit.heading_html),
                "text_html": str(hit.text_html),
            }
            for hit in hits
        ],
    }


@view_config(route_name="api.documents", request_method="GET", renderer="json")
def published(request):
    """The published version: the terms for anyone, the other documents for staff only."""
    kind = kinds.get(request.matchdict["kind"])
    if not kind.public and not request.has_permission(P.STAFF_DOCUMENTS_VIEW):
        raise HTTPForbidden()  # the forbidden view answers 401, or 403 FORBIDDEN
    return reading.published_json(request.db, kind.code, request.document_facts)
