"""The city's audit pages: the access log (D-1: who saw which resident's data, when and why;
exportable) and the audit log of staff actions (who did what to which record; the secretariat
reads the same page at its own address)."""

from __future__ import annotations

from pyramid.view import view_config

from kariya.audit import action_labels, actions
from kariya.campaign.rules import zone_of
from kariya.errors import DomainError
from kariya.security import P
from views.secretariat.audit import access_log_csv, access_log_page


@view_config(
    route_name="city.access_log",
    renderer="common/access_log.jinja2",
    permission=P.AUDIT_ACCESS_LOG_VIEW,
    request_method="GET",
)
def index(request):
    return access_log_page(request, "city.access_log_csv")


@view_config(
    route_name="city.access_log_csv", permission=P.AUDIT_ACCESS_LOG_VIEW, request_method="GET"
)
def download(request):
    return access_log_csv(request)


# -- the audit log of staff actions (issue 14): who did what, to which record, from where ------

PAGE_SIZE = 50


def staff_actions_page(request, route: str):
    """The log, newest first, narrowed by the form (account, action, days, record, outcome)."""
    params = request.params
    error, filters = None, actions.Filters()
    try:
        filters = actions.parse_filters(params, zone_of(request.campaign_rules))
    except DomainError as exc:
        error = exc.message
        request.response.status = exc.status
    page_number = params.get("page", "1")
    found = actions.search(
        request.db,
        filters,
        page=int(page_number) if page_number.isdigit() else 1,
        size=PAGE_SIZE,
    )
    form = {k: params.get(k, "") for k in ("actor", "action", "from", "to", "record", "outcome")}
    return {
        "error": error,
        "form": form if error is None else {k: "" for k in form},
        "result": found,
        "linked": actions.linked(request.db, found.entries),
        "ids_of": actions.ids_of,
        "action_label": action_labels.label,
        "actions": sorted(action_labels.LABELS.items(), key=lambda kv: kv[0]),
        "outcomes": action_labels.OUTCOME_LABELS,
        "route": route,
        "export_url": request.route_url("city.exports") if route.startswith("city.") else None,
    }


@view_config(
    route_name="city.staff_actions",
    renderer="city/staff_actions.jinja2",
    permission=P.AUDIT_STAFF_ACTIONS_VIEW,
    request_method="GET",
)
def staff_actions(request):
    return staff_actions_page(request, "city.staff_actions")


@view_config(
    route_name="secretariat.staff_actions",
    renderer="city/staff_actions.jinja2",
    permission=P.AUDIT_STAFF_ACTIONS_VIEW,
    request_method="GET",
)
def secretariat_staff_actions(request):
    return staff_actions_page(request, "secretariat.staff_actions")
