from pyramid.httpexceptions import HTTPNotFound
from pyramid.view import view_config

from kariya.security import P
from workflows import BY_NAME as MACHINES
from workflows.binding import label, mermaid


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
