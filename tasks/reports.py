"""The city's view (kariya.reports): the dashboard's figures refreshed every minute, each
settled round's status report, and the exports and hand-over ZIPs asked for on the pages."""

from __future__ import annotations

import logging

from kariya.settings import settings_of
from tasks import celery_app, task_context

log = logging.getLogger(__name__)

WEEKLY_SECONDS = 60.0  # how often the beat looks for a settled round without its report


@celery_app.task(name="kariya.reports.refresh_dashboard", acks_late=True)
def refresh_dashboard() -> str | None:
    """The dashboard's figures as of now (never counted inside a resident's transaction)."""
    from kariya.reports import dashboard

    with task_context() as (db, clock, _settings):
        data = dashboard.refresh(db, clock)
    return data["as_of"] if data else None


@celery_app.task(name="kariya.reports.weekly", acks_late=True)
def build_weekly_reports() -> list[int]:
    """The report of each round settled since (catch-up; one per round), told to the city."""
    from kariya.reports import status

    with task_context() as (db, clock, settings):
        built = status.due_weekly(db, clock, settings)
    if built:  # the mails were queued in the committed transaction: send them now
        celery_app.tasks["kariya.mail.send"].delay()
    return built


@celery_app.task(name="kariya.reports.export", acks_late=True)
def run_export(job_id: int) -> dict:
    """One export or hand-over ZIP into its job's file (kariya.reports.jobs)."""
    from kariya.reports import jobs

    with task_context() as (db, clock, settings):
        job = jobs.run_job(db, clock, settings, job_id)
    return {"job": job.id, "state": job.state, "rows": job.done}


def includeme(config):
    seconds = settings_of(config.registry).reports.dashboard_refresh_seconds
    config.add_periodic_task("dashboard", refresh_dashboard, seconds)
    config.add_periodic_task("status_reports", build_weekly_reports, WEEKLY_SECONDS)
