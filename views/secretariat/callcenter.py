"""The secretariat's view of the call centre: every inquiry, one inquiry's journal, the reports
(by day, category, state and the time to answer; C-2, C-3)."""

from __future__ import annotations

from pyramid.view import view_config

from kariya.callcenter import categories, inquiries, reading, reports
from kariya.security import P


@view_config(
    route_name="secretariat.callcenter",
    renderer="secretariat/callcenter.jinja2",
    permission=P.CALLCENTER_REPORTS_VIEW,
    request_method="GET",
)
def index(request):
    states = reading.parse_states(request.params.get("state"))
    found = reading.listing(request.db, request.identity.role, states=states, limit=300)
    return {
        "inquiries": found,
        "refs": reading.references(request.db, found),
        "state": request.params.get("state", ""),
        "states": [(s, inquiries.state_label(s)) for s in inquiries.inquiry_wf.S],
        "state_label": inquiries.state_label,
        "category_label": categories.label,
        "report": reports.summary(request.db, request.kariya_settings),
    }


@view_config(
    route_name="secretariat.inquiry",
    renderer="secretariat/inquiry.jinja2",
    permission=P.CALLCENTER_INQUIRIES_VIEW,
    request_method="GET",
)
def show(request):
    inquiry = inquiries.get_for(request.db, request.matchdict["id"], request.identity.role)
    return {
        "inquiry": inquiry,
        "refs": reading.references(request.db, [inquiry])[inquiry.id],
        "events": reading.events(request.db, inquiry),
        "state_label": inquiries.state_label,
        "event_label": inquiries.event_label,
        "category_label": categories.label,
    }
