"""The bulk build of every active store's printed materials (S-2)."""

from __future__ import annotations

from tasks import celery_app, task_context


@celery_app.task(name="kariya.materials.build_all", acks_late=True)
def build_materials(job_id: int) -> dict:
    """Every active store's printed materials into one ZIP (S-2); the job's row has the
    progress and its chunks the ZIP."""
    from kariya.materials import jobs as material_jobs

    with task_context() as (db, clock, settings):
        job = material_jobs.run_job(db, clock, settings, job_id)
    return {"job": job.id, "state": job.state, "stores": job.done}


def includeme(config):
    """No beat entry: a build runs when the secretariat asks for one."""
