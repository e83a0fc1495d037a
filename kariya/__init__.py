"""Kariya e-coupon back office: the application factory.

One function builds the configuration from settings; the WSGI app, the Celery worker and the
`kariya` CLI all come from it, so they never drift apart.
"""

from __future__ import annotations

from pyramid.config import Configurator

from kariya import settings as kariya_settings


def make_config(settings: dict) -> Configurator:
    settings = kariya_settings.load(settings)
    config = Configurator(settings=settings)
    config.include("kariya.logs")
    config.include("pyramid_jinja2")
    config.include("kariya.db")
    config.include("kariya.clock")
    config.include("kariya.security")
    config.include("tasks")
    config.include("views")
    from kariya.coupons.acquisition import sold_out_memo

    config.registry["acquisition.sold_out_memo"] = sold_out_memo(settings)  # one per process
    return config


def main(global_config, **settings):
    """The paste app factory used by pserve and gunicorn."""
    config = make_config(settings)
    app = config.make_wsgi_app()
    from kariya.dev import mail_sink

    mail_sink.start(config.registry.settings)  # development only (kariya.mail_sink.port)
    return app
