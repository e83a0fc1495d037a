"""The terms and privacy notice (I-1, D-1) at /terms: anyone may read the published version; a
resident who has not agreed to it yet (a new version was published) agrees here, before their
next acquisition."""

from pyramid.httpexceptions import HTTPFound
from pyramid.view import view_config

from kariya import roles
from kariya.documents import consent, kinds, reading
from kariya.errors import Invalid
from kariya.models import Person
from kariya.security import P
from views.common import safe_next


def _page(request, error: str | None = None) -> dict:
    identity = request.identity
    resident = identity if identity is not None and identity.role == roles.RESIDENT else None
    current, agreed = consent.status(request.db, resident.id) if resident else (None, None)
    return {
        "terms": reading.published(request.db, kinds.TERMS, request.document_facts),
        "resident": resident is not None,
        "needs_consent": resident is not None and current is not None and (agreed or 0) < current,
        "agreed": agreed,
        "error": error,
        "next": request.params.get("next", ""),
    }


@view_config(route_name="resident.terms", renderer="resident/terms.jinja2", request_method="GET")
def show(request):
    return _page(request)


@view_config(
    route_name="resident.terms",
    renderer="resident/terms.jinja2",
    permission=P.RESIDENT_PROFILE_EDIT,
    request_method="POST",
)
def agree(request):
    person = request.db.get(Person, request.identity.id)
    try:
        consent.agree(request.db, request.clock, person, request.POST.get("agreed_terms"))
    except Invalid as exc:
        request.response.status = 422
        return _page(request, exc.message)
    request.session.flash("利用規約・プライバシーポリシーに同意しました。")
    return HTTPFound(safe_next(request, request.route_url("resident.home")))
