"""What residents read about the programme: the excluded items and the help page."""

from pyramid.view import view_config

from kariya.campaign import excluded_items


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
    return {"callcenter": _callcenter(request)}
