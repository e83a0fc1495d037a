"""The tasks. Each is idempotent, takes primitive arguments and calls one service."""

from __future__ import annotations

import logging

from tasks import BEAT_SCHEDULE, celery_app, task_context

log = logging.getLogger(__name__)

# The boundary tick runs this long after the instant, so the clock has surely passed it.
BOUNDARY_MARGIN_SECONDS = 0.05


@celery_app.task(name="kariya.tick", acks_late=True)
def tick() -> dict:
    """Every time-driven transition due now: open, close and settle rounds."""
    from kariya.coupons import ticker

    with task_context() as (db, clock, _settings):
        done = ticker.run_due(db, clock, actor="system:tick")
        now = clock.now()
        boundary = ticker.next_boundary(db, now)
    if any(done.values()):
        log.info("tick", extra={"done": done})
    # A boundary before the next beat tick gets a tick of its own at that instant (a second
    # tick is harmless). Not when eager: there the tick would run at once, before its time.
    if boundary is not None and not celery_app.conf.task_always_eager:
        wait = (boundary - now).total_seconds()
        if 0 < wait <= BEAT_SCHEDULE["tick"]["schedule"]:
            tick.apply_async(countdown=wait + BOUNDARY_MARGIN_SECONDS)
    return done


@celery_app.task(name="kariya.materials.build_all", acks_late=True)
def build_materials(job_id: int) -> dict:
    """Every active store's printed materials into one ZIP (S-2); the job's row has the
    progress and its chunks the ZIP."""
    from kariya.materials import jobs as material_jobs

    with task_context() as (db, clock, settings):
        job = material_jobs.run_job(db, clock, settings, job_id)
    return {"job": job.id, "state": job.state, "stores": job.done}


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


@celery_app.task(name="kariya.mail.send", acks_late=True)
def send_mail() -> dict:
    """Send the outbox (notices to stores, bank account messages); retried by the beat."""
    from kariya.mail import outbox

    with task_context() as (db, clock, settings):
        return outbox.send_pending(db, clock, settings)
