"""The city's home: the campaign and how its rounds stand, and the documents awaiting its
approval (C-4)."""

from pyramid.view import view_config

from kariya.campaign import definition
from kariya.documents import reading
from kariya.security import P
from views.city.callcenter import escalation_panel
from workflows import round as round_wf
from workflows.binding import label


@view_config(
    route_name="city.home",
    renderer="city/home.jinja2",
    permission=P.CITY_HOME_VIEW,
    request_method="GET",
)
def home(request):
    return {
        "campaign": definition.latest(request.db),
        "round_label": lambda s: label(round_wf.MACHINE, s),
        **escalation_panel(request),
        "awaiting": reading.awaiting_review(request.db, request.clock.now()),
    }
