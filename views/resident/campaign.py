"""What residents read about the programme: the excluded items and the help page."""

from pyramid.view import view_config

from kariya import roles
from kariya.campaign import excluded_items
from kariya.models import Person


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
    """How to use the coupons, whom to call, and the resident's own reference to read out on
    the telephone (DESIGN.md section 5.1)."""
    identity = request.identity
    person = None
    if identity is not None and identity.role == roles.RESIDENT:
        person = request.db.get(Person, identity.id)
    return {"callcenter": _callcenter(request), "ref": person.ref if person else None}
