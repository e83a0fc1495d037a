from pyramid.httpexceptions import HTTPFound, HTTPNotFound
from pyramid.view import view_config

from kariya.campaign import definition
from kariya.ledger import postings
from kariya.security import P
from workflows import BY_NAME as MACHINES
from workflows import round as round_wf
from workflows.binding import label, mermaid


@view_config(
    route_name="secretariat.home",
    renderer="secretariat/home.jinja2",
    permission=P.SECRETARIAT_HOME_VIEW,
    request_method="GET",
)
def home(request):
    return {
        "campaign": definition.latest(request.db),
        "round_label": lambda s: label(round_wf.MACHINE, s),
    }


@view_config(
    route_name="secretariat.tick", permission=P.SECRETARIAT_TICK_RUN, request_method="POST"
)
def tick(request):
    request.enqueue("kariya.tick")
    request.session.flash("時間による処理(開始・終了・繰越)の実行を依頼しました。")
    return HTTPFound(request.route_url("secretariat.home"))


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


@view_config(
    route_name="secretariat.ledger",
    renderer="secretariat/ledger.jinja2",
    permission=P.SECRETARIAT_LEDGER_VIEW,
    request_method="GET",
)
def ledger_check(request):
    campaign = definition.latest(request.db)
    return {"report": postings.check(request.db, campaign) if campaign else None}
