"""Development-only calls (DESIGN.md section 5). This module is included only where a
development stand-in is on (views/__init__.py), and each route only where its own setting allows
it, so elsewhere they are 404; production.ini refuses those settings outright."""

from __future__ import annotations

import datetime as dt

from pyramid.renderers import render_to_response
from pyramid.request import call_app_with_subpath_as_path_info
from pyramid.security import remember

from kariya import roles
from kariya.clock import set_clock
from kariya.dev import LINE_SIMULATOR_KEY, mail_sink
from kariya.dev.line_simulator import NOW_KEY
from kariya.errors import Invalid
from kariya.residents import profiles, withdrawal
from kariya.security import Identity
from kariya.settings import settings_of
from views import inputs


def json_body(request, **spec: inputs.Field) -> dict:
    body = inputs.parsed_json(request)  # checked at the edge (views/inputs.py)
    if not isinstance(body, dict):
        raise Invalid("JSON オブジェクトを送ってください。", code="MALFORMED")
    return inputs.fields(body, **spec)


def put_clock(request):
    body = json_body(request, now=inputs.text(), frozen=inputs.boolean())
    try:
        now = dt.datetime.fromisoformat(body["now"])
    except ValueError:
        raise Invalid("now は ISO 8601 形式(時差つき)で指定してください。") from None
    if now.tzinfo is None:
        raise Invalid("now には時差(例: +09:00)を付けてください。")
    set_clock(request.db, now, frozen=body["frozen"])
    # The demo moves on at once: run the time-driven transitions after this commits.
    request.enqueue("kariya.tick")
    return {"now": now.isoformat()}


def line_login(request):
    body = json_body(request, line_user_id=inputs.text(), display_name=inputs.text())
    line_user_id = body["line_user_id"].strip()
    if not line_user_id:
        raise Invalid("line_user_id を指定してください。")
    person = profiles.get_or_create(
        request.db,
        request.clock,
        line_user_id,
        body["display_name"],
        hash_key=withdrawal.hash_key(request.kariya_settings),
    )
    if person.blocked:
        raise profiles.AccountMoved()
    headers = remember(request, Identity(role=roles.RESIDENT, id=person.id))
    request.response.headerlist.extend(headers)
    return {"person_id": person.id, "line_user_id": person.line_user_id}


def line_simulator(request):
    """LINE's login and friendship endpoints, simulated (kariya/dev/line_simulator.py), on the
    app's clock so that its codes and ID tokens agree with the time the app checks them at."""
    request.environ[NOW_KEY] = request.clock.now()
    return call_app_with_subpath_as_path_info(request, request.registry[LINE_SIMULATOR_KEY])


def mail_page(request):
    """GET /dev/mail: what the development SMTP sink has received."""
    mails = mail_sink.received(mail_sink.directory_of(request.kariya_settings))
    return render_to_response("dev/mail.jinja2", {"mails": mails}, request=request)


def includeme(config):
    settings = settings_of(config.registry)
    if mail_sink.port_of(settings):
        config.add_route("dev.mail", "/dev/mail")
        config.add_view(mail_page, route_name="dev.mail", request_method="GET")
    if settings.clock_settable:
        config.add_route("dev.clock", "/dev/clock")
        config.add_view(
            put_clock,
            route_name="dev.clock",
            request_method="PUT",
            renderer="json",
            require_csrf=False,
        )
    if settings.line.simulator:
        config.add_route("dev.line_login", "/dev/line-login")
        config.add_view(
            line_login,
            route_name="dev.line_login",
            request_method="POST",
            renderer="json",
            require_csrf=False,
        )
        config.add_route("dev.line_simulator", "/dev/line/*subpath")
        config.add_view(line_simulator, route_name="dev.line_simulator", require_csrf=False)
