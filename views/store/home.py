from pyramid.view import view_config

from kariya.models import Store
from kariya.security import P


@view_config(
    route_name="store.home",
    renderer="store/home.jinja2",
    permission=P.STORE_HOME_VIEW,
    request_method="GET",
)
def home(request):
    return {"store": request.db.get(Store, request.identity.store_id)}
