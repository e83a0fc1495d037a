"""The tick: every time-driven transition of the rounds and coupons (kariya.coupons.ticker)."""

from __future__ import annotations

import logging

from tasks import celery_app, task_context

log = logging.getLogger(__name__)

# The beat's tick, in seconds. Time-driven work is written as catch-up ("close every round whose
# end has passed"), so a missed or doubled tick does no harm.
TICK_SECONDS = 10.0
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
        if 0 < wait <= TICK_SECONDS:
            tick.apply_async(countdown=wait + BOUNDARY_MARGIN_SECONDS)
    return done


def includeme(config):
    config.add_periodic_task("tick", tick, TICK_SECONDS)
