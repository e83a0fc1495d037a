"""The fraud watch's periodic scan (kariya.fraud.scan): the rules over the recent uses, the
cases they open or add to. One scan at a time (an advisory lock), so a doubled beat opens
nothing twice."""

from __future__ import annotations

import logging

from kariya.settings import settings_of
from tasks import celery_app, task_context

log = logging.getLogger(__name__)


@celery_app.task(name="kariya.fraud.scan", acks_late=True)
def scan() -> dict:
    from kariya.fraud import scan as fraud_scan

    with task_context() as (db, clock, settings):
        result = fraud_scan.run(db, clock, settings)
        done = {
            "opened": [case.id for case in result.opened],
            "extended": [case.id for case in result.extended],
            "seconds": result.total_seconds,
            "skipped": result.skipped,
        }
    if done["opened"] or done["extended"]:
        log.info("fraud scan", extra={"done": done})
    return done


def includeme(config):
    seconds = settings_of(config.registry).fraud.scan_seconds
    if seconds > 0:
        config.add_periodic_task("fraud_scan", scan, seconds)
