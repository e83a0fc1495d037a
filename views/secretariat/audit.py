"""The secretariat's checks across domains (kariya.audit): the access log (D-1: who saw which
resident's data, when and why; the CSV export is itself an access record) and the ledger's
invariants (the funds' balances)."""

from __future__ import annotations

from pyramid.response import Response
from pyramid.view import view_config

from kariya.audit import access
from kariya.audit.ledger_check import check as check_ledger
from kariya.callcenter import reports
from kariya.campaign import definition
from kariya.security import P
from views.common import viewer


def access_log_page(request, csv_route: str) -> dict:
    return {
        "entries": access.latest(request.db),
        "action_label": access.action_label,
        "csv_url": request.route_url(csv_route),
    }


def access_log_csv(request):
    now = request.clock.now()
    header, rows = access.rows(request.db)
    access.record(
        request.db,
        now,
        viewer(request),
        access.export_action("access-log"),
        subject="access-log",
        detail=f"{len(rows)} rows (csv)",
    )
    response = Response(
        body=reports.table_bytes(header, rows, "csv", "utf-8-sig"),
        content_type="text/csv",
        charset="utf-8",
    )
    response.content_disposition = 'attachment; filename="access_log.csv"'
    return response


@view_config(
    route_name="secretariat.access_log",
    renderer="common/access_log.jinja2",
    permission=P.AUDIT_ACCESS_LOG_VIEW,
    request_method="GET",
)
def index(request):
    return access_log_page(request, "secretariat.access_log_csv")


@view_config(
    route_name="secretariat.access_log_csv",
    permission=P.AUDIT_ACCESS_LOG_VIEW,
    request_method="GET",
)
def download(request):
    return access_log_csv(request)


@view_config(
    route_name="secretariat.ledger",
    renderer="secretariat/ledger.jinja2",
    permission=P.SECRETARIAT_LEDGER_VIEW,
    request_method="GET",
)
def ledger_check(request):
    campaign = definition.latest(request.db)
    return {"report": check_ledger(request.db, campaign) if campaign else None}
