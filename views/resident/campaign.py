"""What residents read about the programme: the excluded items and the help page."""

from pyramid.view import view_config

from kariya import roles
from kariya.campaign import excluded_items
from kariya.residents import profiles, refs


def _callcenter(request) -> dict:
    callcenter = request.kariya_settings.callcenter
    return {"phone": callcenter.phone, "hours": callcenter.hours}


@view_config(
    route_name="resident.excluded", renderer="resident/excluded.jinja2", request_method="GET"
)
def excluded(request):
    return {"items": excluded_items.ITEMS}


@view_config(route_name="resident.help", renderer="resident/help.jinja2", request_method="GET")
def help_page(request):
    identity = request.identity
    ref = None
    if identity is not None and identity.role == roles.RESIDENT:
        ref = profiles.ref_of(request.db, identity.id)
    return {"callcenter": _callcenter(request), "ref": refs.display(ref)}
