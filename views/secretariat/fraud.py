"""The secretariat's fraud watch screens (issue 15): the same list and case pages as the city's
(views/city/fraud.py), the review button, and a scan run now."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPFound
from pyramid.view import view_config

from kariya.fraud import scan
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
    result = scan.run(
        request.db, request.clock, request.kariya_settings, actor=request.identity.actor
    )
    request.session.flash(
        result.skipped
        or f"検知を実行しました: 新しい案件 {len(result.opened)}件、証拠の追加 {len(result.extended)}件"
        f"({result.total_seconds}秒)。"
    )
    return HTTPFound(request.route_url("secretariat.fraud"))
