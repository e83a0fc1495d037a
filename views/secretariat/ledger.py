"""The secretariat checks the ledger's invariants (the funds' balances)."""

from pyramid.view import view_config

from kariya.audit.ledger_check import check as check_ledger
from kariya.campaign import definition
from kariya.security import P


@view_config(
    route_name="secretariat.ledger",
    renderer="secretariat/ledger.jinja2",
    permission=P.SECRETARIAT_LEDGER_VIEW,
    request_method="GET",
)
def ledger_check(request):
    campaign = definition.latest(request.db)
    return {"report": check_ledger(request.db, campaign) if campaign else None}
