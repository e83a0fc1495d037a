"""Pyramid views, one subpackage per role. Views are thin: parse, call a service, render."""

from kariya import settings as kariya_settings
from kariya.campaign import rules
from kariya.materials import context


def includeme(config):
    config.add_static_view("static", "views:static", cache_max_age=3600)
    config.include("views.inputs")  # every input checked before any view (issue 14, defect 7)
    config.include("views.ratelimits")  # 429 RATE_LIMITED (issue 14, defect 8; DESIGN 5.1)
    # The campaign's rules for any page that states one (never written into a template).
    config.add_request_method(
        lambda request: rules.current(request.db, request.kariya_settings),
        "campaign_rules",
        reify=True,
    )
    # What the documents' placeholders are filled in with (kariya.documents.placeholders).
    config.add_request_method(
        lambda request: context.for_documents(request.db, request.kariya_settings),
        "document_facts",
        reify=True,
    )
    config.include("views.staff_actions")  # the audit log's request hook
    config.add_route("home", "/")
    config.add_route("login", "/login")
    config.add_route("logout", "/logout")
    # The staff's second factor (views/second_factor.py): the login's second step, enrolment.
    config.add_route("login.code", "/login/code")
    config.add_route("staff.second_factor", "/staff/second-factor")
    config.add_route("health", "/healthz")
    config.add_route("health.live", "/healthz/live")
    if kariya_settings.dev_stand_ins(config.get_settings()):
        config.include("views.dev")
    config.include("views.api", route_prefix="/api/v1")
    config.include("views.resident")
    config.include("views.store", route_prefix="/store")
    config.include("views.callcenter", route_prefix="/callcenter")
    config.include("views.secretariat", route_prefix="/secretariat")
    config.include("views.city", route_prefix="/city")
    config.scan("views", ignore="views.dev")  # production never imports the stand-ins
