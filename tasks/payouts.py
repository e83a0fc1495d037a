"""The draft payout batch after each settlement period (kariya.payouts.batches)."""

from __future__ import annotations

import logging

from tasks import celery_app, task_context

log = logging.getLogger(__name__)


@celery_app.task(name="kariya.payouts.build", acks_late=True)
def build_payout_batch() -> int | None:
    """After each settlement period ends: the draft batch (nothing when nothing is payable or a
    batch is still in progress). The secretariat can also build one by hand."""
    from kariya.errors import DomainError
    from kariya.payouts import batches

    try:
        with task_context() as (db, clock, settings):
            batch = batches.build(db, clock, settings, actor="system:payouts")
            return batch.id
    except DomainError as exc:
        log.info("no payout batch built", extra={"reason": exc.message})
        return None


def includeme(config):
    # Hourly: the build refuses quietly when nothing is payable.
    config.add_periodic_task("payouts", build_payout_batch, 3600.0)
