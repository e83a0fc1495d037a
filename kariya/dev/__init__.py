"""Development stand-ins: the demo data (`kariya demo`), the LINE simulator and the mail sink.

The application factory includes this package only where a development setting is on
(kariya.settings.dev_stand_ins); production.ini refuses those settings, so production never
imports these modules. Their pages are views/dev.py, included on the same condition.
"""

from __future__ import annotations

from pyramid.events import ApplicationCreated

from kariya.dev import mail_sink
from kariya.dev.line_simulator import LineSimulator
from kariya.settings import settings_of

LINE_SIMULATOR_KEY = "kariya.line_simulator"
MAIL_SINK_KEY = "kariya.mail_sink"


def _start_mail_sink(event: ApplicationCreated) -> None:
    """The web app (pserve) runs the SMTP sink; the worker and the CLI make no WSGI app."""
    registry = event.app.registry
    registry[MAIL_SINK_KEY] = mail_sink.start(settings_of(registry))


def includeme(config):
    settings = settings_of(config.registry)
    if settings.line.simulator:
        config.registry[LINE_SIMULATOR_KEY] = LineSimulator.from_settings(settings)
    if settings.mail_sink.port:
        config.add_subscriber(_start_mail_sink, ApplicationCreated)
