"""The store finder (S-1): public, active stores only."""

from pyramid.view import view_config

from kariya.stores import finder
from views import inputs


@view_config(route_name="api.stores", request_method="GET", renderer="json")
def stores(request):
    return finder.search(
        request.db,
        q=request.params.get("q", ""),
        category=request.params.get("category", ""),
        area=request.params.get("area", ""),
        page=inputs.query_int(request, "page", 1),
    )
