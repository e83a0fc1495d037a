"""The store's own printed materials (S-2): its QR sticker, poster, flyer and the manual."""

from pyramid.response import Response
from pyramid.view import view_config

from kariya.materials import sets
from kariya.models import Store
from kariya.security import P


@view_config(route_name="store.materials", permission=P.STORE_HOME_VIEW, request_method="GET")
def download(request):
    """Always the logged-in staff member's own store: no store is named in the URL."""
    store = request.db.get(Store, request.identity.store_id)
    data = sets.store_zip(request.db, request.kariya_settings, store, now=request.clock.now())
    return Response(
        body=data,
        content_type="application/zip",
        content_disposition=f'attachment; filename="{sets.zip_name(store)}"',
        cache_control="no-store",
    )
