"""The secretariat's fraud watch screens (issue 15): the same list and case pages as the city's
(views/city/fraud.py), the review button, and a scan run now."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPFound
from pyramid.view import view_config

from kariya.security import P
from views.city.fraud import case_page, cases_page, event_action


@view_config(
    route_name="secretariat.fraud",
    renderer="common/fraud_cases.jinja2",
    permission=P.STAFF_FRAUD_VIEW,
    request_method="GET",
)
def index(request):
    return cases_page(request, "secretariat")


@view_config(
    route_name="secretariat.fraud_case", permission=P.STAFF_FRAUD_VIEW, request_method="GET"
)
def show(request):
    return case_page(request, "secretariat")


@view_config(
    route_name="secretariat.fraud_event",
    permission=P.SECRETARIAT_FRAUD_REVIEW,
    request_method="POST",
)
def review(request):
    return event_action(request, "secretariat")


@view_config(
    route_name="secretariat.fraud_scan",
    permission=P.SECRETARIAT_FRAUD_REVIEW,
    request_method="POST",
)
def scan_now(request):
    """The beat's scan, now (a task: the page does not wait for it)."""
    request.enqueue("kariya.fraud.scan")
    request.session.flash(
        "検知の実行を依頼しました。しばらくしてからこの画面を開き直してください。"
    )
    return HTTPFound(request.route_url("secretariat.fraud"))
