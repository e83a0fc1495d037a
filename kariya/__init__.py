"""Kariya e-coupon back office: the application factory.

One function builds the configuration from settings; the WSGI app, the Celery worker and the
`kariya` CLI all come from it, so they never drift apart. Each package wires itself in its own
`includeme`; this root only includes them in order (views and tasks by name: kariya imports
neither).
"""

from __future__ import annotations

import gc

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
    where they are on, start with the WSGI app: see tasks/ and kariya/dev/).

    What the process holds once the app is built (its configuration, mappers, templates: about
    250,000 objects) lives as long as the process, so it is moved out of the garbage
    collector's reach (`gc.freeze`): a full collection then no longer walks it. Under the
    weekly rush a full collection stopped every thread of a worker for up to 176 ms; with the
    freeze, for up to 32 ms (issue 16; README, "The weekly rush")."""
    app = make_config(settings).make_wsgi_app()
    gc.collect()
    gc.freeze()
    return app
