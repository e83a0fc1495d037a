"""The fraud watch's JSON (DESIGN §5.2): the cases (`?state=`), one case with its evidence and
history, and its events (`review` the secretariat's; `clear`, `confirm` the city's). A refused
role answers 403 FORBIDDEN, a transition the machine refuses 409 BAD_TRANSITION."""

from __future__ import annotations

from pyramid.view import view_config

from kariya.fraud import cases, reading
from kariya.security import P
from views import inputs
from views.api.support import json_body
from views.common import viewer

EVENT = {
    "event": inputs.text(None),
    "note": inputs.text(),
    "amount": inputs.integer(nullable=True, minimum=0),
}


@view_config(
    route_name="api.staff.fraud_cases",
    request_method="GET",
    renderer="json",
    permission=P.STAFF_FRAUD_VIEW,
)
def list_cases(request):
    rows = reading.listing(request.db, states=reading.parse_states(request.params.get("state")))
    reading.record_list(request.db, request.clock, viewer(request), rows)
    return {"cases": [reading.case_json(row) for row in rows]}


@view_config(
    route_name="api.staff.fraud_case",
    request_method="GET",
    renderer="json",
    permission=P.STAFF_FRAUD_VIEW,
)
def show_case(request):
    case = cases.get(request.db, request.matchdict["id"])
    return reading.detail_json(reading.detail(request.db, request.clock, viewer(request), case))


@view_config(
    route_name="api.staff.fraud_case_events",
    request_method="POST",
    renderer="json",
    permission=P.STAFF_FRAUD_VIEW,
)
def post_event(request):
    body = inputs.fields(json_body(request), **EVENT)
    case = cases.get(request.db, request.matchdict["id"])
    cases.apply(
        request.db,
        request.clock,
        request.kariya_settings,
        viewer(request),
        case,
        body["event"],
        body["note"],
        amount=body["amount"],
    )
    return {"id": case.id, "state": case.state}
