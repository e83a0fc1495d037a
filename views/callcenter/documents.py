"""The call-centre answer manual beside the agents' console (Q-3): the published version, searched
on the server over its headings and text (matches marked), each section offered as a canned
answer to insert."""

from pyramid.view import view_config

from kariya.documents import kinds, reading, versions
from kariya.security import P


def panel(request, param: str = "mq") -> dict:
    """The manual as the console shows it: the text, its sections, and the search's hits for the
    query parameter `param` (the console's screens keep `q` for their own look-ups)."""
    query = request.params.get(param, "").strip()
    found = {"manual_q": query, "manual_param": param}
    ver = versions.published(request.db, kinds.CALLCENTER_MANUAL)
    if ver is None:
        return {"manual": None, "sections": [], "hits": None, **found}
    manual = reading.read(ver, request.document_facts)
    sections = manual.sections
    return {
        "manual": manual,
        "sections": sections,
        "hits": reading.search(sections, query) if query else None,
        **found,
    }


@view_config(
    route_name="callcenter.manual",
    renderer="callcenter/manual.jinja2",
    permission=P.CALLCENTER_HOME_VIEW,
    request_method="GET",
)
def manual(request):
    return panel(request, "q")
