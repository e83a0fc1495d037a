"""The store finder for residents (S-1): public, active stores only."""

from pyramid.httpexceptions import HTTPNotFound
from pyramid.view import view_config

from kariya.errors import Invalid
from kariya.residents import options
from kariya.stores import finder, lookup


@view_config(route_name="resident.stores", renderer="resident/stores.jinja2", request_method="GET")
def stores(request):
    try:
        page = int(request.params.get("page", "1") or 1)
    except ValueError:
        raise Invalid("ページ番号が正しくありません。") from None
    q, category, area = (request.params.get(k, "") for k in ("q", "category", "area"))
    return {
        "result": finder.search(request.db, q=q, category=category, area=area, page=page),
        "q": q,
        "category": category,
        "area": area,
        "categories": finder.categories(request.db),
        "areas": options.AREAS,
    }


@view_config(route_name="resident.store", renderer="resident/store.jinja2", request_method="GET")
def store(request):
    found = lookup.by_code(request.db, request.matchdict["code"], active=True)
    if found is None:
        raise HTTPNotFound()
    return {"store": finder.store_json(found), "areas": options.AREAS}
