"""Issue 14: schemathesis over the OpenAPI document (views/api/openapi.yaml, served at
/api/v1/openapi.yaml), in-process against the WSGI app, bounded in time: every operation
anonymously and again with a session of the role it is for (a resident, an agent, the
secretariat or the city, over a campaign with an open round and an active store). Every
default check must pass: no 5xx, every status code, header and body as documented, data that
violates the schema refused and data that fits it not refused for its form (I-10).

`make schemathesis` runs the same with more examples per operation (SCHEMATHESIS_EXAMPLES)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import schemathesis
import webtest
from hypothesis import HealthCheck, settings
from schemathesis.config import PositiveDataAcceptanceConfig

from kariya import make_config
from kariya.db import get_session_factory
from tasks import configure
from tests.conftest import BASE_SETTINGS
from tests.helpers import (
    ROUND1,
    load_campaign,
    login_resident,
    login_staff,
    make_store,
    make_user,
    seed_documents,
    truncate_all,
)

SPEC = Path(__file__).resolve().parents[2] / "views" / "api" / "openapi.yaml"
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "6"))
TRIES = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("SCHEMATHESIS_EXAMPLES"),  # the suite's run repeats itself
    database=None,
    suppress_health_check=list(HealthCheck),
)

schema = schemathesis.openapi.from_path(SPEC)
schema.config.base_url = "/api/v1"  # the WSGI app serves the API under its servers entry
# NUL is refused at the edge for any string (views/inputs.py); the document says so with a
# pattern where it can, and an extra JSON member the views never read may carry anything else.
schema.config.generation.update(allow_x00=False)
# DESIGN answers a rule that well-formed data breaks with 422 as well (BILL_TOO_LOW,
# REASON_REQUIRED, an unknown reference, a choice not on the list): such an answer to data that
# fits the schema is no failure. Data that does not fit must still be refused (the
# negative_data_rejection check), and 400, 413 or 415 for data that fits is.
schema.config.checks.positive_data_acceptance = PositiveDataAcceptanceConfig(
    expected_statuses=["2xx", "401", "403", "404", "409", "422", "429"]
)

# The role each part of the API is for (the others are refused, which the matrix tests cover).
ROLE_OF = {
    "/staff/documents": "secretariat",
    "/documents/": "secretariat",
    "/staff/inquiries": "agent",
    "/staff/residents": "agent",
    "/staff/me": "agent",
    "/staff/access-log": "city",
    "/staff/fraud-cases": "city",
    "/staff/dashboard": "city",
}
ROLES = ("resident", "agent", "secretariat", "city")
COOKIE = "kariya_session"
SEEN: dict[str, int] = {"cases": 0, "5xx": 0}


def role_for(path: str) -> str:
    return next((role for prefix, role in ROLE_OF.items() if path.startswith(prefix)), "resident")


@pytest.fixture(scope="module")
def api_app(engine, registry):
    """The suite's app without rate limits (test_rate_limits.py has them): a long run is many
    unsafe calls by one resident."""
    app = make_config({**BASE_SETTINGS, "kariya.rate_limit.enabled": "false"}).make_wsgi_app()
    configure(registry)  # the Celery app back to the suite's app
    return app


@pytest.fixture(autouse=True)
def clean_db():
    """Instead of the suite's (tables emptied before each test): this module's operations share
    one world, made once (`world`), and whatever their calls leave behind."""
    yield


@pytest.fixture(scope="module")
def world(engine, api_app, redis_client, session_factory_module):
    """A campaign with round 1 open, an active store, and one signed-in person per role:
    {role: (session cookie, CSRF token)}."""
    truncate_all(engine)
    seed_documents(engine)
    db = session_factory_module()
    try:
        load_campaign(db)
        make_store(db, "S0001")
        for role in ("agent", "secretariat", "city"):
            make_user(db, role)
    finally:
        db.close()
    sessions = {}
    for role in ROLES:
        browser = webtest.TestApp(api_app, extra_environ={"HTTP_HOST": "localhost"})
        if role == "resident":
            browser.put_json("/dev/clock", {"now": ROUND1.replace(hour=10).isoformat()})
            token = login_resident(browser)
        else:
            login_staff(browser, role)
            token = browser.get("/api/v1/staff/me").json["csrf_token"]
        sessions[role] = (browser.cookies["kariya_session"], token)
    return sessions


@pytest.fixture(scope="module")
def session_factory_module(engine):
    return get_session_factory(engine)


def sign(case, cookie: str, token: str) -> None:
    """The real session and CSRF token where the case carries some (never where it leaves
    them out on purpose: then the answer must be 401 or 403)."""
    if case.cookies and COOKIE in case.cookies:
        case.cookies[COOKIE] = cookie
    if case.headers and "X-CSRF-Token" in case.headers:
        case.headers["X-CSRF-Token"] = token


def run(case, app):
    case.operation.schema.app = app  # the checks' own probes go to the app too
    try:
        response = case.call(app=app)
    finally:
        SEEN["cases"] += 1
    if response.status_code >= 500:
        SEEN["5xx"] += 1
    case.validate_response(response, transport_kwargs={"app": app})


@schema.parametrize()
@TRIES
def test_every_operation_anonymously(case, api_app, world):
    if case.cookies:
        case.cookies.pop(COOKIE, None)
    run(case, api_app)


@schema.parametrize()
@TRIES
def test_every_operation_signed_in(case, api_app, world):
    sign(case, *world[role_for(case.operation.path)])
    run(case, api_app)


def test_the_runs_called_the_api_and_no_5xx():
    """Read after the two above (pytest keeps the module's order): they ran cases, none 5xx."""
    print(f"schemathesis: {SEEN['cases']} cases, {SEEN['5xx']} answers 5xx")
    assert SEEN["5xx"] == 0
    if SEEN["cases"]:
        assert SEEN["cases"] >= 2 * len(list(schema.get_all_operations()))
