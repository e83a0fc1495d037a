"""The OpenAPI document is served and names every route of the JSON API (DESIGN.md section 5)."""

import yaml


def test_openapi_document_covers_the_api(testapp, app):
    spec = yaml.safe_load(testapp.get("/api/v1/openapi.yaml").text)
    assert spec["openapi"].startswith("3.")
    documented = {path.split("{")[0].rstrip("/") for path in spec["paths"]}
    mapper = app.registry.getUtility(
        __import__("pyramid.interfaces", fromlist=["IRoutesMapper"]).IRoutesMapper
    )
    # A route included with a prefix has no leading slash ("api/v1/me"): compare with one.
    patterns = ["/" + route.pattern.lstrip("/") for route in mapper.get_routes()]
    served = {
        pattern.removeprefix("/api/v1").split("{")[0].rstrip("/")
        for pattern in patterns
        if pattern.startswith("/api/v1/") and not pattern.endswith("openapi.yaml")
    }
    assert "/me" in served  # the comparison sees the API's routes
    assert served <= documented, f"undocumented API routes: {served - documented}"
