"""The fraud watch's screens (issue 15), the city's and, through the functions here, the
secretariat's (views/secretariat/fraud.py): the open cases with their figures against the norm,
each case with its evidence and history, and the buttons of the role (the secretariat reviews,
the city clears or confirms)."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPFound
from pyramid.renderers import render_to_response
from pyramid.view import view_config

from kariya.errors import DomainError, Forbidden
from kariya.fraud import cases, reading
from kariya.fraud import rules as fraud_rules
from kariya.security import P
from views.common import viewer
from workflows import fraud as fraud_wf

SHOWN = {  # the list's filter: what `?state=` shows
    "open": ("対応中(未確認・調査中)", list(fraud_wf.OPEN)),
    "closed": ("判断済み", [fraud_wf.S.cleared, fraud_wf.S.confirmed]),
    "all": ("すべて", None),
}


def cases_page(request, role: str) -> dict:
    shown = request.params.get("state", "open")
    if shown not in SHOWN:
        shown = "open"
    rows = reading.listing(request.db, states=SHOWN[shown][1])
    reading.record_list(request.db, request.clock, viewer(request), rows)
    return {
        "role": role,
        "rows": rows,
        "shown": shown,
        "filters": SHOWN,
        "rules": fraud_rules.RULES,
        "unread_hours": fraud_rules.unread_hours(request.db),
    }


def case_page(request, role: str, *, error: str | None = None, status: int = 200, form=None):
    case = cases.get(request.db, request.matchdict["id"])
    values = reading.detail(request.db, request.clock, viewer(request), case)
    values.update(role=role, error=error, form=form or {}, label_of=reading.state_label)
    response = render_to_response("common/fraud_case.jinja2", values, request=request)
    response.status = status
    return response


def event_action(request, role: str):
    case = cases.get(request.db, request.matchdict["id"])
    savepoint = request.db.begin_nested()  # a refusal leaves nothing half-written behind
    try:
        applied = cases.apply(
            request.db,
            request.clock,
            request.kariya_settings,
            viewer(request),
            case,
            request.POST.get("event", ""),
            request.POST.get("note", ""),
            amount=request.POST.get("amount"),
        )
    except DomainError as exc:
        savepoint.rollback()
        if isinstance(exc, Forbidden):
            raise  # the 403 page, and the refusal in the access log (views/errors.py)
        return case_page(request, role, error=exc.message, status=exc.status, form=request.POST)
    savepoint.commit()
    request.session.flash(
        f"案件 No.{case.id} を「{reading.state_label(case.state)}」にしました。"
        + "".join(applied.said)
    )
    return HTTPFound(request.route_url(f"{role}.fraud_case", id=case.id))


@view_config(
    route_name="city.fraud",
    renderer="common/fraud_cases.jinja2",
    permission=P.STAFF_FRAUD_VIEW,
    request_method="GET",
)
def index(request):
    return cases_page(request, "city")


@view_config(route_name="city.fraud_case", permission=P.STAFF_FRAUD_VIEW, request_method="GET")
def show(request):
    return case_page(request, "city")


@view_config(route_name="city.fraud_event", permission=P.CITY_FRAUD_DECIDE, request_method="POST")
def decide(request):
    return event_action(request, "city")
