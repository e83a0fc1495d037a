"""A store's own payment statements (and nothing of any other store)."""

from pyramid.httpexceptions import HTTPNotFound
from pyramid.response import Response
from pyramid.view import view_config

from kariya.payouts import batches, statements
from kariya.security import P
from views.secretariat.payouts import xlsx_response


@view_config(
    route_name="store.statements",
    renderer="store/statements.jinja2",
    permission=P.STORE_STATEMENTS_VIEW,
    request_method="GET",
)
def index(request):
    return {
        "lines": batches.store_lines(request.db, request.identity.store_id),
        "line_status": statements.LINE_STATUS,
    }


@view_config(
    route_name="store.statement_xlsx", permission=P.STORE_STATEMENTS_VIEW, request_method="GET"
)
def xlsx(request):
    batch, line = _own_line(request)
    return xlsx_response(
        statements.store_statement_xlsx(request.db, batch, line), f"statement_batch{batch.id}.xlsx"
    )


@view_config(
    route_name="store.statement_pdf", permission=P.STORE_STATEMENTS_VIEW, request_method="GET"
)
def pdf(request):
    batch, line = _own_line(request)
    return Response(
        body=statements.store_statement_pdf(request.db, batch, line),
        content_type="application/pdf",
        content_disposition=f'attachment; filename="statement_batch{batch.id}.pdf"',
    )


def _own_line(request):
    """This store's line in the batch asked for; 404 for anything else."""
    batch_id = int(request.matchdict["id"])
    for batch, line in batches.store_lines(request.db, request.identity.store_id):
        if batch.id == batch_id:
            return batch, line
    raise HTTPNotFound()
