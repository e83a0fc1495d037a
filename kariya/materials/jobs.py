"""The bulk build as a job in the database, which the web and the workers on any host agree on:
a material_job row moved by its machine (workflows/material_job.py: queued -> running -> done |
failed), its progress, and its ZIP, written in chunks of about a megabyte as the build goes and
streamed back on download.

The build commits its progress, with the chunks written so far, in short transactions of its own
beside the task's session, so that the page can follow it. A job whose worker has been silent for
STALE_AFTER is shown as failed, and recorded as given up when the next build starts. A job run
again while it runs (a task delivered twice, a worker lost) starts over under a new attempt
number; the older attempt stops at its next commit. Job bookkeeping uses the machine's real time
(utcnow), not the campaign clock: staleness is about a process that stopped, and a frozen
development clock must not keep a job alive.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Iterator

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from kariya.campaign.models import Campaign
from kariya.clock import utcnow
from kariya.db import get_session_factory
from kariya.documents import kinds, versions
from kariya.errors import Conflict, NotFound
from kariya.materials import context, sets
from kariya.materials.models import MaterialJob, MaterialJobChunk
from workflows import material_job as job_wf
from workflows.binding import fire, label

log = logging.getLogger(__name__)

ACTOR = "system:materials"
KEEP_JOBS = 5  # older jobs and their ZIPs are removed when a new one starts
STALE_AFTER = dt.timedelta(minutes=15)  # an unfinished job silent this long is given up
PROGRESS_EVERY = 0.5  # seconds between progress commits
CHUNK_SIZE = 1024 * 1024  # bytes of ZIP per stored chunk
STOPPED = "作成が途中で止まりました。もう一度作成してください。"
FAILED = "作成中にエラーが発生しました。"


@dataclasses.dataclass(frozen=True)
class JobStatus:
    """A job as the page shows it (a silent unfinished job counts as failed)."""

    id: int
    state: str
    state_label: str
    done: int
    total: int
    percent: int
    size: int | None
    message: str | None
    requested_by: str
    requested_at: dt.datetime
    finished_at: dt.datetime | None
    manual_version: int | None = None  # the store manual version its sets carry
    out_of_date: bool = False  # a newer store manual was published since: build again

    @property
    def unfinished(self) -> bool:
        return self.state in job_wf.UNFINISHED

    @property
    def downloadable(self) -> bool:
        return self.state == job_wf.S.done


class Superseded(Exception):
    """This attempt's job was restarted by another worker, or given up."""


def is_stale(job: MaterialJob, now: dt.datetime | None = None) -> bool:
    return job.state in job_wf.UNFINISHED and (now or utcnow()) - job.updated_at >= STALE_AFTER


def status(
    job: MaterialJob, now: dt.datetime | None = None, manual_version: int | None = None
) -> JobStatus:
    """`manual_version`: the store manual published now (a done job carrying an older one is
    out of date)."""
    stale = is_stale(job, now)
    state = job_wf.S.failed if stale else job.state
    return JobStatus(
        id=job.id,
        state=state,
        state_label=label(job_wf.MACHINE, state),
        done=job.done,
        total=job.total,
        percent=100
        if state == job_wf.S.done
        else (job.done * 100 // job.total if job.total else 0),
        size=job.size,
        message=STOPPED
        if stale
        else (job.message or (STOPPED if state == job_wf.S.failed else None)),
        requested_by=job.requested_by,
        requested_at=job.requested_at,
        finished_at=job.finished_at,
        manual_version=job.manual_version,
        out_of_date=state == job_wf.S.done
        and manual_version is not None
        and job.manual_version != manual_version,
    )


def find(db: Session, job_id: int | str) -> MaterialJob:
    job = db.get(MaterialJob, int(job_id)) if str(job_id).isdigit() else None
    if job is None:
        raise NotFound("指定された作成処理は見つかりません。", code="JOB_NOT_FOUND")
    return job


def _published_manual(db: Session) -> int | None:
    found = versions.published(db, kinds.STORE_MANUAL)
    return found.number if found is not None else None


def read(db: Session, job_id: int | str) -> JobStatus:
    return status(find(db, job_id), manual_version=_published_manual(db))


def recent(db: Session, limit: int = KEEP_JOBS) -> list[JobStatus]:
    """The newest jobs first."""
    now = utcnow()
    published = _published_manual(db)
    jobs = db.scalars(select(MaterialJob).order_by(MaterialJob.id.desc()).limit(limit))
    return [status(job, now, published) for job in jobs]


def start_job(db: Session, settings: dict, actor: str) -> MaterialJob:
    """Record a queued bulk job (the caller then enqueues `kariya.materials.build_all` with its
    id); refuses while another is under way, and gives up one that fell silent."""
    now = utcnow()
    if context.current(db, settings).manual is None:  # no campaign, no manual: refuse now
        raise Conflict(
            "取扱店マニュアルが公開されていないため、掲示物を作成できません。", code="NO_MANUAL"
        )
    total = sets.count_active(db)
    if total == 0:
        raise Conflict("利用可能な店舗がないため、掲示物を作成できません。", code="NO_STORES")
    # Two starts at once queue one job: they take turns on the campaign's row.
    db.scalar(select(Campaign.id).order_by(Campaign.id.desc()).limit(1).with_for_update())
    for job in db.scalars(
        select(MaterialJob).where(MaterialJob.state.in_(job_wf.UNFINISHED)).with_for_update()
    ):
        if not is_stale(job, now):
            raise Conflict(
                "掲示物を作成中です。完了してから、もう一度お試しください。", code="BUILD_RUNNING"
            )
        fire(db, job_wf.MACHINE, job, "give_up", actor=actor, now=now, reason=STOPPED)
        job.message, job.updated_at = STOPPED, now
    old = db.scalars(select(MaterialJob.id).order_by(MaterialJob.id.desc())).all()[KEEP_JOBS - 1 :]
    if old:
        db.execute(delete(MaterialJobChunk).where(MaterialJobChunk.job_id.in_(old)))
        db.execute(delete(MaterialJob).where(MaterialJob.id.in_(old)))
    job = MaterialJob(
        state=job_wf.S.queued, requested_by=actor, requested_at=now, updated_at=now, total=total
    )
    db.add(job)
    db.flush()
    return job


class _Output:
    """The ZIP as the build writes it (a file object for zipfile, which cannot seek in it):
    stored in chunks, committed with the progress in transactions of its own."""

    def __init__(self, session_factory, job_id: int, attempt: int):
        self._session_factory = session_factory
        self._job_id, self._attempt = job_id, attempt
        self._session: Session | None = None
        self._buffer = bytearray()
        self._seq = 0
        self._written = 0
        self._last_commit = 0.0
        self._discarded = False  # after a failure, what zipfile still writes is dropped

    # --- the file object -------------------------------------------------------------------

    def write(self, data) -> int:
        if self._discarded:
            return len(data)
        self._buffer += data
        self._written += len(data)
        while len(self._buffer) >= CHUNK_SIZE:
            self._store(bytes(self._buffer[:CHUNK_SIZE]))
            del self._buffer[:CHUNK_SIZE]
        return len(data)

    def tell(self) -> int:
        return self._written

    def flush(self) -> None:
        pass

    # --- the job ---------------------------------------------------------------------------

    def _open(self) -> Session:
        if self._session is None:
            self._session = self._session_factory()
        return self._session

    def _store(self, data: bytes) -> None:
        self._open().execute(
            insert(MaterialJobChunk).values(job_id=self._job_id, seq=self._seq, data=data)
        )
        self._seq += 1

    def _mine(self):
        return (
            MaterialJob.id == self._job_id,
            MaterialJob.attempt == self._attempt,
            MaterialJob.state == job_wf.S.running,
        )

    def progress(self, done: int, total: int) -> None:
        moment = time.monotonic()
        if done != total and moment - self._last_commit < PROGRESS_EVERY:
            return
        self._last_commit = moment
        db = self._open()
        moved = db.execute(
            update(MaterialJob)
            .where(*self._mine())
            .values(done=done, total=total, updated_at=utcnow())
        ).rowcount
        if moved != 1:
            self.discard()
            raise Superseded()
        db.commit()

    def finish(self, count: int, manual_version: int | None = None) -> None:
        """The last chunk and the job done, in one transaction."""
        if self._buffer:
            self._store(bytes(self._buffer))
            self._buffer.clear()
        db = self._open()
        job = db.scalar(select(MaterialJob).where(*self._mine()).with_for_update())
        if job is None:
            self.discard()
            raise Superseded()
        now = utcnow()
        fire(db, job_wf.MACHINE, job, "finish", actor=ACTOR, now=now)
        job.done, job.total, job.size = count, count, self._written
        job.manual_version = manual_version
        job.finished_at, job.updated_at = now, now
        db.commit()
        self.close()

    def discard(self) -> None:
        self._discarded = True
        if self._session is not None:
            self._session.rollback()
        self.close()

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


def _claim(session_factory, job_id: int) -> int | None:
    """Move the job to running for this attempt (a fresh ZIP); None when it is done or failed."""
    with session_factory.begin() as db:
        job = db.get(MaterialJob, job_id, with_for_update=True)
        if job is None:
            raise NotFound("指定された作成処理は見つかりません。", code="JOB_NOT_FOUND")
        if job.state not in job_wf.UNFINISHED:
            return None
        now = utcnow()
        event = "start" if job.state == job_wf.S.queued else "restart"
        fire(db, job_wf.MACHINE, job, event, actor=ACTOR, now=now)
        db.execute(delete(MaterialJobChunk).where(MaterialJobChunk.job_id == job_id))
        job.attempt += 1
        job.started_at, job.updated_at, job.done, job.size, job.message = now, now, 0, None, None
        return job.attempt


def _fail(session_factory, job_id: int, attempt: int, message: str) -> None:
    with session_factory.begin() as db:
        job = db.get(MaterialJob, job_id, with_for_update=True)
        if job is None or job.state != job_wf.S.running or job.attempt != attempt:
            return  # another attempt owns it now
        db.execute(delete(MaterialJobChunk).where(MaterialJobChunk.job_id == job_id))
        fire(db, job_wf.MACHINE, job, "fail", actor=ACTOR, now=utcnow(), reason=message)
        job.message, job.updated_at = message[:500], utcnow()


def run_job(db: Session, clock, settings: dict, job_id: int) -> JobStatus:
    """The body of the bulk task: build every active store's set into the job's ZIP, keeping its
    progress up to date. Running a finished or failed job again does nothing."""
    job_id = int(job_id)
    session_factory = get_session_factory(db.get_bind())
    attempt = _claim(session_factory, job_id)
    if attempt is not None:
        output = _Output(session_factory, job_id, attempt)
        try:
            ctx = context.current(db, settings)
            count = sets.build_all(
                db, settings, output, progress=output.progress, now=clock.now(), ctx=ctx
            )
            output.finish(count, ctx.manual.number if ctx.manual is not None else None)
            log.info("materials built", extra={"job": job_id, "stores": count})
        except Superseded:
            output.discard()
            log.info("materials build superseded", extra={"job": job_id, "attempt": attempt})
        except Exception as exc:
            output.discard()
            _fail(session_factory, job_id, attempt, getattr(exc, "message", None) or FAILED)
            log.exception("materials build failed", extra={"job": job_id})
            raise
    with session_factory() as fresh:
        return read(fresh, job_id)


def zip_chunks(db: Session, job_id: int | str) -> tuple[JobStatus, Iterator[bytes]]:
    """A finished job and its ZIP, read chunk by chunk over a connection of its own (the
    download goes on after the request's session has closed). NotFound until it is done."""
    job = find(db, job_id)
    if job.state != job_wf.S.done:
        raise NotFound("掲示物のZIPはまだできていません。", code="JOB_NOT_DONE")
    count = db.scalar(
        select(func.count()).select_from(MaterialJobChunk).where(MaterialJobChunk.job_id == job.id)
    )
    engine, key = db.get_bind(), job.id

    def chunks() -> Iterator[bytes]:
        with engine.connect() as conn:
            for seq in range(count):
                data = conn.scalar(
                    select(MaterialJobChunk.data).where(
                        MaterialJobChunk.job_id == key, MaterialJobChunk.seq == seq
                    )
                )
                if data is None:  # removed meanwhile (a newer build pruned it)
                    return
                yield bytes(data)
                conn.rollback()  # no snapshot held between chunks

    return status(job), chunks()
