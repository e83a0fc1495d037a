"""The call-centre answer manual beside the agents' console (Q-3): the published version, searched
on the server over its headings and text (matches marked), each section offered as a canned
answer to insert."""

from pyramid.view import view_config

from kariya.documents import kinds, reading, versions
from kariya.security import P


def panel(request) -> dict:
    """The manual as the console shows it: the text, its sections, and the search's hits."""
    query = request.params.get("q", "").strip()
    ver = versions.published(request.db, kinds.CALLCENTER_MANUAL)
    if ver is None:
        return {"manual": None, "sections": [], "q": query, "hits": None}
    manual = reading.read(ver, request.document_facts)
    sections = manual.sections
    return {
        "manual": manual,
        "sections": sections,
        "q": query,
        "hits": reading.search(sections, query) if query else None,
    }


@view_config(
    route_name="callcenter.manual",
    renderer="callcenter/manual.jinja2",
    permission=P.CALLCENTER_HOME_VIEW,
    request_method="GET",
)
def manual(request):
    return panel(request)
