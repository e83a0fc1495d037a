"""Kariya e-coupon back office: the application factory.

One function builds the configuration from settings; the WSGI app, the Celery worker and the
`kariya` CLI all come from it, so they never drift apart. Each package wires itself in its own
`includeme`; this root only includes them in order (views and tasks by name: kariya imports
neither).
"""

from __future__ import annotations

from pyramid.config import Configurator

from kariya import settings as kariya_settings


def make_config(settings: dict) -> Configurator:
    import kariya.models  # noqa: F401  every domain's mappers, before the first session

    settings = kariya_settings.load(settings)
    config = Configurator(settings=settings)
    config.include("kariya.settings")
    config.include("kariya.logs")
    config.include("pyramid_jinja2")
    config.include("kariya.db")
    config.include("kariya.clock")
    config.include("kariya.security")
    config.include("kariya.coupons")
    if kariya_settings.dev_stand_ins(settings):
        config.include("kariya.dev")
    config.include("tasks")
    config.include("views")
    return config


def main(global_config, **settings):
    """The paste app factory used by pserve and gunicorn (the in-process beat and the mail sink,
    where they are on, start with the WSGI app: see tasks/ and kariya/dev/)."""
    return make_config(settings).make_wsgi_app()
