"""The bulk build as a job any process can follow (web, eager Celery, a worker): a progress file
and the ZIP under `kariya.materials_dir`."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import secrets
import tempfile
import time
from pathlib import Path

from sqlalchemy.orm import Session

from kariya.clock import utcnow
from kariya.errors import Conflict, NotFound
from kariya.materials import context
from kariya.materials.sets import build_all, count_active
from kariya.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

JOB_ID = re.compile(r"^\d{14}-[0-9a-f]{8}$")
KEEP_JOBS = 5  # older jobs and their ZIPs are removed when a new one starts
STALE_AFTER = dt.timedelta(minutes=15)  # an unfinished job silent this long is given up
PROGRESS_EVERY = 0.5  # seconds between progress writes
# Job bookkeeping uses the machine's real time (utcnow), not the campaign clock: staleness is
# about a process that stopped, and a frozen development clock must not keep a job alive.


def materials_dir(settings: dict) -> Path:
    """Where jobs keep their progress and ZIPs (`kariya.materials_dir`, relative to the project
    root unless absolute); the web and the workers must share it."""
    path = Path(settings.get("kariya.materials_dir") or "var/materials")
    if not path.is_absolute():
        path = PROJECT_ROOT / path
    path.mkdir(parents=True, exist_ok=True)
    return path


def _job_path(settings: dict, job_id: str, suffix: str) -> Path:
    if not JOB_ID.match(job_id or ""):
        raise NotFound("指定された作成処理は見つかりません。", code="JOB_NOT_FOUND")
    return materials_dir(settings) / f"{job_id}{suffix}"


def _save(settings: dict, job: dict) -> None:
    """Write atomically: a reader never sees half a file."""
    target = _job_path(settings, job["id"], ".json")
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".job-", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(job, f, ensure_ascii=False)
    os.replace(tmp, target)


def read_job(settings: dict, job_id: str) -> dict:
    path = _job_path(settings, job_id, ".json")
    try:
        job = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise NotFound("指定された作成処理は見つかりません。", code="JOB_NOT_FOUND") from None
    return job


def is_unfinished(job: dict, now: dt.datetime | None = None) -> bool:
    if job.get("state") not in ("queued", "running"):
        return False
    return (now or utcnow()) - dt.datetime.fromisoformat(job["updated_at"]) < STALE_AFTER


def recent_jobs(settings: dict, limit: int = KEEP_JOBS) -> list[dict]:
    """The newest jobs first (job ids begin with their UTC time)."""
    jobs = []
    for path in sorted(materials_dir(settings).glob("*.json"), reverse=True)[:limit]:
        try:
            jobs.append(json.loads(path.read_text("utf-8")))
        except (OSError, ValueError):
            continue
    return jobs


def zip_path(settings: dict, job_id: str) -> Path:
    """The finished ZIP of a job; NotFound until it is done."""
    job = read_job(settings, job_id)
    path = _job_path(settings, job_id, ".zip")
    if job.get("state") != "done" or not path.exists():
        raise NotFound("掲示物のZIPはまだできていません。", code="JOB_NOT_DONE")
    return path


def start_job(db: Session, settings: dict, actor: str) -> dict:
    """Record a queued bulk job (the caller then enqueues `kariya.materials.build_all`);
    refuses while another is under way."""
    now = utcnow()
    context.current(db, settings)  # no campaign: refuse now, not in the worker
    total = count_active(db)
    if total == 0:
        raise Conflict("利用可能な店舗がないため、掲示物を作成できません。", code="NO_STORES")
    for job in recent_jobs(settings):
        if is_unfinished(job, now):
            raise Conflict(
                "掲示物を作成中です。完了してから、もう一度お試しください。", code="BUILD_RUNNING"
            )
    for old in sorted(materials_dir(settings).glob("*.json"), reverse=True)[KEEP_JOBS - 1 :]:
        for path in (old, old.with_suffix(".zip"), old.with_suffix(".zip.part")):
            path.unlink(missing_ok=True)
    job = {
        "id": f"{now.astimezone(dt.UTC):%Y%m%d%H%M%S}-{secrets.token_hex(4)}",
        "state": "queued",
        "done": 0,
        "total": total,
        "requested_by": actor,
        "requested_at": now.isoformat(),
        "started_at": None,
        "finished_at": None,
        "updated_at": now.isoformat(),
        "size": None,
        "message": None,
    }
    _save(settings, job)
    return job


def run_job(db: Session, clock, settings: dict, job_id: str) -> dict:
    """The body of the bulk task: build every active store's set into the job's ZIP, keeping
    the progress file up to date. Running a finished job again does nothing."""
    job = read_job(settings, job_id)
    final = _job_path(settings, job_id, ".zip")
    if job["state"] == "done" and final.exists():
        return job
    part = _job_path(settings, job_id, ".zip.part")
    started = utcnow()
    job.update(
        state="running", started_at=started.isoformat(), updated_at=started.isoformat(), done=0
    )
    _save(settings, job)
    last = [0.0]

    def progress(done: int, total: int) -> None:
        moment = time.monotonic()
        if done == total or moment - last[0] >= PROGRESS_EVERY:
            last[0] = moment
            job.update(done=done, total=total, updated_at=utcnow().isoformat())
            _save(settings, job)

    try:
        count = build_all(db, settings, part, progress=progress, now=clock.now())
        os.replace(part, final)
    except Exception as exc:
        part.unlink(missing_ok=True)
        message = exc.message if hasattr(exc, "message") else "作成中にエラーが発生しました。"
        job.update(state="failed", message=message, updated_at=utcnow().isoformat())
        _save(settings, job)
        log.exception("materials build failed", extra={"job": job_id})
        raise
    finished = utcnow()
    job.update(
        state="done",
        done=count,
        total=count,
        size=final.stat().st_size,
        finished_at=finished.isoformat(),
        updated_at=finished.isoformat(),
    )
    _save(settings, job)
    log.info("materials built", extra={"job": job_id, "stores": count})
    return job
