"""The tasks. Each is idempotent, takes primitive arguments and calls one service."""

from __future__ import annotations

import logging

from tasks import celery_app, task_context

log = logging.getLogger(__name__)


@celery_app.task(name="kariya.tick", acks_late=True)
def tick() -> dict:
    """Every time-driven transition due now: open, close and settle rounds."""
    from kariya.services import ticker

    with task_context() as (db, clock, _settings):
        done = ticker.run_due(db, clock, actor="system:tick")
    if any(done.values()):
        log.info("tick", extra={"done": done})
    return done
