"""The call-centre answer manual beside the agents' console (Q-3): the published version, searched
on the server over its headings and text (matches marked), each section offered as a canned
answer to insert into the note (kariya.callcenter.answers)."""

from pyramid.view import view_config

from kariya.callcenter import answers
from kariya.documents import reading
from kariya.security import P


def panel(request, manual: answers.Manual | None = None, param: str = "mq") -> dict:
    """The manual as the console shows it: the text, its sections (the canned answers), and the
    search's hits for the query parameter `param` (the console's screens keep `q` for their
    own look-ups). `manual`: the published manual if the view has read it already."""
    query = request.params.get(param, "").strip()
    if manual is None:
        manual = answers.published_manual(request.db, request.document_facts)
    sections = list(manual.sections) if manual is not None else []
    return {
        "manual": manual,
        "sections": sections,
        "hits": reading.search(sections, query) if query and manual is not None else None,
        "manual_q": query,
        "manual_param": param,
        "quote": answers.quote,
    }


@view_config(
    route_name="callcenter.manual",
    renderer="callcenter/manual.jinja2",
    permission=P.CALLCENTER_HOME_VIEW,
    request_method="GET",
)
def manual(request):
    return panel(request, param="q")
