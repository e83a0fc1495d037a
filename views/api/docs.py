from pathlib import Path

from pyramid.view import view_config

OPENAPI = (Path(__file__).with_name("openapi.yaml")).read_text("utf-8")


@view_config(route_name="api.openapi", request_method="GET")
def openapi(request):
    request.response.content_type = "application/yaml"
    request.response.text = OPENAPI
    return request.response
