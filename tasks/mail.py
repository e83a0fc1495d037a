"""Sending the outbox (kariya.mail.outbox)."""

from __future__ import annotations

from tasks import celery_app, task_context


@celery_app.task(name="kariya.mail.send", acks_late=True)
def send_mail() -> dict:
    """Send the outbox (notices to stores, bank account messages); retried by the beat."""
    from kariya.mail import outbox

    with task_context() as (db, clock, settings):
        return outbox.send_pending(db, clock, settings)


def includeme(config):
    # What the request's own send missed (SMTP down) is retried every minute.
    config.add_periodic_task("mail", send_mail, 60.0)
