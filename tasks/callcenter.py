"""The call centre's time-driven work (kariya.callcenter.reminders): escalation reminders, due
time warnings and the closing of resolved inquiries, in business time."""

from __future__ import annotations

import logging

from tasks import celery_app, task_context

log = logging.getLogger(__name__)

# Every minute. Each reminder is given once per due time (a unique key written with it), so a
# second beat or a retried task gives nothing twice.
REMINDER_SECONDS = 60.0


@celery_app.task(name="kariya.callcenter.remind", acks_late=True)
def remind() -> dict:
    from kariya.callcenter import reminders

    with task_context() as (db, clock, settings):
        done = reminders.run_due(db, clock, settings)
    if done["reminder_mails"]:
        from tasks.mail import send_mail

        send_mail.apply_async()  # after the commit above
    if any(done.values()):
        log.info("call centre reminders", extra={"done": done})
    return done


def includeme(config):
    config.add_periodic_task("callcenter", remind, REMINDER_SECONDS)
