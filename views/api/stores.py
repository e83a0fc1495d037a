"""The store finder (S-1): public, active stores only."""

from pyramid.view import view_config

from kariya.errors import Invalid
from kariya.stores import finder


@view_config(route_name="api.stores", request_method="GET", renderer="json")
def stores(request):
    try:
        page = int(request.params.get("page", "1"))
    except ValueError:
        raise Invalid("page は数字で指定してください。") from None
    return finder.search(
        request.db,
        q=request.params.get("q", ""),
        category=request.params.get("category", ""),
        area=request.params.get("area", ""),
        page=page,
    )
