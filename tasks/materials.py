"""The bulk build of every active store's printed materials (S-2)."""

from __future__ import annotations

from tasks import celery_app, task_context


@celery_app.task(name="kariya.materials.build_all", acks_late=True)
def build_materials(job_id: str) -> dict:
    """Every active store's printed materials into one ZIP (S-2); progress in the job's file."""
    from kariya.materials import materials

    with task_context() as (db, clock, settings):
        job = materials.run_job(db, clock, settings.raw, job_id)  # its ini dict, for now
    return {"job": job_id, "state": job["state"], "stores": job["done"]}


def includeme(config):
    """No beat entry: a build runs when the secretariat asks for one."""
