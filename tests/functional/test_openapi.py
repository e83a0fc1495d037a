"""The OpenAPI document is served and names every route of the JSON API (DESIGN.md section 5)."""

import yaml


def test_openapi_document_covers_the_api(testapp, app):
    spec = yaml.safe_load(testapp.get("/api/v1/openapi.yaml").text)
    assert spec["openapi"].startswith("3.")
    documented = {path.split("{")[0].rstrip("/") for path in spec["paths"]}
    mapper = app.registry.getUtility(
        __import__("pyramid.interfaces", fromlist=["IRoutesMapper"]).IRoutesMapper
    )
    served = {
        route.pattern.removeprefix("/api/v1").split("{")[0].rstrip("/")
        for route in mapper.get_routes()
        if route.pattern.startswith("/api/v1/") and not route.pattern.endswith("openapi.yaml")
    }
    assert served <= documented, f"undocumented API routes: {served - documented}"
