"""The secretariat checks the ledger's invariants (the funds' balances)."""

from pyramid.view import view_config

from kariya.campaign import definition
from kariya.ledger import postings
from kariya.security import P


@view_config(
    route_name="secretariat.ledger",
    renderer="secretariat/ledger.jinja2",
    permission=P.SECRETARIAT_LEDGER_VIEW,
    request_method="GET",
)
def ledger_check(request):
    campaign = definition.latest(request.db)
    return {"report": postings.check(request.db, campaign) if campaign else None}
