"""First visit (I-1): age band, area and agreement to the terms, asked once and editable later."""

from pyramid.httpexceptions import HTTPFound
from pyramid.view import view_config

from kariya.errors import Invalid
from kariya.models import Person
from kariya.residents import options, profiles
from kariya.security import P
from views.common import safe_next


def _form(request, person, errors=None, values=None):
    values = values or {"age_band": person.age_band or "", "area": person.area or ""}
    return {
        "person": person,
        "age_bands": options.AGE_BANDS,
        "areas": options.AREAS,
        "terms_version": options.TERMS_VERSION,
        "errors": errors or {},
        "values": values,
        "next": request.params.get("next", ""),
    }


@view_config(
    route_name="resident.profile",
    renderer="resident/profile.jinja2",
    permission=P.RESIDENT_PROFILE_EDIT,
    request_method="GET",
)
def show(request):
    return _form(request, request.db.get(Person, request.identity.id))


@view_config(
    route_name="resident.profile",
    renderer="resident/profile.jinja2",
    permission=P.RESIDENT_PROFILE_EDIT,
    request_method="POST",
)
def save(request):
    person = request.db.get(Person, request.identity.id)
    values = {"age_band": request.POST.get("age_band", ""), "area": request.POST.get("area", "")}
    try:
        profiles.set_profile(
            request.db,
            request.clock,
            person,
            values["age_band"],
            values["area"],
            agreed_terms=request.POST.get("agreed_terms"),
        )
    except Invalid as exc:
        request.response.status = 422
        return _form(request, person, exc.details or {}, values)
    request.session.flash("登録しました。")
    return HTTPFound(safe_next(request, request.route_url("resident.home")))
