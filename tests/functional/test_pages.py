"""Common pages, error pages, health checks, request ids (foundation issue)."""

import json
import logging
import re

import sqlalchemy as sa
import webtest

from kariya import make_config
from kariya.models import Campaign
from tests.conftest import BASE_SETTINGS
from tests.helpers import load_campaign, login_staff, make_user


def test_landing_page_is_japanese_and_mobile_ready(testapp):
    page = testapp.get("/")
    assert '<html lang="ja">' in page.text
    assert 'name="viewport"' in page.text
    assert "刈谷市電子割引券" in page.text


def test_css_is_served_locally(testapp):
    """No CDN: the city's machines may have no internet. Nothing loads from another host."""
    page = testapp.get("/")
    assert "/static/kariya.css" in page.text
    assert not re.search(r'(?:src|href)="https?://(?!localhost[:/])', page.text)
    css = testapp.get("/static/kariya.css")
    assert css.content_type == "text/css"


def test_unknown_url_gets_the_japanese_404_page(testapp):
    page = testapp.get("/no/such/page", status=404)
    assert "お探しのページは見つかりませんでした" in page.text
    assert '<html lang="ja">' in page.text


def test_unknown_api_url_gets_json_404(testapp):
    response = testapp.get("/api/v1/nothing", status=404)
    assert response.json["error"] == "NOT_FOUND"


def test_health_checks_database_and_redis(testapp):
    body = testapp.get("/healthz").json
    assert body == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}
    assert testapp.get("/healthz/live").json == {"status": "ok"}


def _app_with(**overrides):
    return webtest.TestApp(make_config({**BASE_SETTINGS, **overrides}).make_wsgi_app())


def test_health_fails_when_redis_is_down():
    app = _app_with(**{"kariya.redis_url": "redis://127.0.0.1:1/0"})
    body = app.get("/healthz", status=503).json
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("error")


def test_database_down_gives_503_page_never_a_traceback():
    app = _app_with(**{"sqlalchemy.url": "postgresql+psycopg://postgres@127.0.0.1:1/none"})
    assert app.get("/healthz", status=503).json["checks"]["database"].startswith("error")
    page = app.get("/api/v1/rounds/current", status=503)
    assert page.json["error"] == "UNAVAILABLE"
    html = app.get("/login", status=200)  # the login form needs no database
    assert "ログイン" in html.text
    resident = app.post_json("/dev/line-login", {"line_user_id": "U1"}, status=503)
    assert "Traceback" not in resident.text
    assert "ただいま" in resident.json["message"]


def test_every_response_carries_a_request_id_and_logs_use_it(testapp, caplog):
    from kariya.logs import JsonFormatter

    caplog.set_level(logging.WARNING)
    response = testapp.get("/api/v1/acquisitions", status=405, headers={"X-Request-ID": "req-123"})
    assert response.headers["X-Request-ID"] == "req-123"
    testapp.post("/login", {"username": "x"}, status=403, headers={"X-Request-ID": "req-456"})
    record = next(r for r in caplog.records if r.getMessage() == "csrf check failed")
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "req-456"
    assert line["path"] == "/login"
    assert testapp.get("/").headers["X-Request-ID"]


def test_times_are_shown_in_the_campaigns_time_zone(db, testapp, set_now):
    """A page states days in the campaign's own time zone (here not Japan's): round 1 starts at
    midnight in Tokyo, which is still the 14th in Los Angeles."""
    load_campaign(db)
    db.execute(sa.update(Campaign).values(timezone="America/Los_Angeles"))
    db.commit()
    set_now("2024-01-15T12:00:00+09:00")
    make_user(db, "agent", "agent")
    login_staff(testapp, "agent")
    page = testapp.get("/callcenter/")
    assert "第1回(1月14日(日) 〜 1月21日(日))" in page.text
    assert "今週の配布" in page.text  # the rounds are weeks
