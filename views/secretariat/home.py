from pyramid.httpexceptions import HTTPNotFound
from pyramid.view import view_config

from kariya.security import P
from workflows import adjustment as adjustment_wf
from workflows import bank_change as bank_change_wf
from workflows import coupon as coupon_wf
from workflows import mail as mail_wf
from workflows import payout as payout_wf
from workflows import redemption as redemption_wf
from workflows import round as round_wf
from workflows import store as store_wf
from workflows.binding import label, mermaid

MACHINES = {
    m.kariya_name: m
    for m in (
        round_wf.MACHINE,
        coupon_wf.MACHINE,
        redemption_wf.MACHINE,
        store_wf.MACHINE,
        bank_change_wf.MACHINE,
        payout_wf.MACHINE,
        adjustment_wf.MACHINE,
        mail_wf.MACHINE,
    )
}


@view_config(
    route_name="secretariat.workflows",
    renderer="secretariat/workflows.jinja2",
    permission=P.SECRETARIAT_WORKFLOWS_VIEW,
    request_method="GET",
)
def workflows(request):
    return {"machines": MACHINES, "mermaid": mermaid, "label": label}


@view_config(
    route_name="secretariat.workflow_diagram",
    permission=P.SECRETARIAT_WORKFLOWS_VIEW,
    request_method="GET",
)
def workflow_diagram(request):
    machine = MACHINES.get(request.matchdict["name"])
    if machine is None:
        raise HTTPNotFound()
    request.response.content_type = "text/plain"
    request.response.text = mermaid(machine)
    return request.response
