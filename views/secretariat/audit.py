"""The access log for the secretariat (D-1): who saw which resident's data, when and why; the
CSV export is itself an access record."""

from __future__ import annotations

from pyramid.response import Response
from pyramid.view import view_config

from kariya.audit import access
from kariya.callcenter import reports
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
