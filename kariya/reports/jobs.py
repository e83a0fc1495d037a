"""Exports and the hand-over ZIP as jobs in the database (the same pattern as the materials'
bulk build, kariya.materials.jobs): an export_job row moved by its machine
(workflows/reports.py, MACHINE: queued -> running -> done | failed), its progress for the page, and
its file written in chunks of about a megabyte as the export goes, streamed back on download.

The export commits its progress with the chunks written so far in short transactions of its own,
so the page can follow it. A job silent for STALE_AFTER is shown as failed; a job run again
while it runs (a task delivered twice) starts over under a new attempt number. Bookkeeping uses
the machine's real time, not the campaign clock (a frozen development clock must not keep a job
alive). Asking for a job is the access record (kariya.reports.exports.record_export).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import time
from collections.abc import Iterator

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from kariya.clock import utcnow
from kariya.db import get_session_factory
from kariya.errors import Conflict, NotFound
from kariya.reports import exports, handover
from kariya.reports.models import ExportJob, ExportJobChunk
from workflows import reports as reports_wf
from workflows.binding import fire, label

log = logging.getLogger(__name__)

ACTOR = "system:exports"
HANDOVER = "handover"
KEEP_JOBS = 20  # older jobs and their files are removed when a new one starts
STALE_AFTER = dt.timedelta(minutes=15)
PROGRESS_EVERY = 0.5  # seconds between progress commits
CHUNK_SIZE = 1024 * 1024
MAX_PROBLEMS = 200  # cells listed on the page (the count says how many more)
STOPPED = "出力が途中で止まりました。もう一度お試しください。"
FAILED = "出力中にエラーが発生しました。"


@dataclasses.dataclass(frozen=True)
class JobStatus:
    id: int
    kind: str
    title: str
    format: str
    encoding: str
    state: str
    state_label: str
    done: int
    total: int
    percent: int
    size: int | None
    sha256: str | None
    message: str | None
    problems: list[str]
    requested_by: str
    requested_at: dt.datetime
    finished_at: dt.datetime | None

    @property
    def unfinished(self) -> bool:
        return self.state in reports_wf.UNFINISHED

    @property
    def downloadable(self) -> bool:
        return self.state == reports_wf.S.done

    @property
    def filename(self) -> str:
        if self.kind == HANDOVER:
            return f"kariya_handover_{self.id}.zip"
        return f"kariya_{self.kind.replace('-', '_')}_{self.id}.{self.format}"


class Superseded(Exception):
    """This attempt's job was restarted by another worker, or given up."""


def title_of(kind: str) -> str:
    if kind == HANDOVER:
        return "引き渡しデータ一式(ZIP)"
    found = exports.KINDS.get(kind)
    return found.title if found else kind


def is_stale(job: ExportJob, now: dt.datetime | None = None) -> bool:
    return job.state in reports_wf.UNFINISHED and (now or utcnow()) - job.updated_at >= STALE_AFTER


def status(job: ExportJob, now: dt.datetime | None = None) -> JobStatus:
    stale = is_stale(job, now)
    state = reports_wf.S.failed if stale else job.state
    done = state == reports_wf.S.done
    return JobStatus(
        id=job.id,
        kind=job.kind,
        title=title_of(job.kind),
        format=job.format,
        encoding=job.encoding,
        state=state,
        state_label=label(reports_wf.MACHINE, state),
        done=job.done,
        total=job.total,
        percent=100 if done else (min(99, job.done * 100 // job.total) if job.total else 0),
        size=job.size,
        sha256=job.sha256,
        message=STOPPED if stale else job.message,
        problems=[p for p in (job.problems or "").split("\n") if p],
        requested_by=job.requested_by,
        requested_at=job.requested_at,
        finished_at=job.finished_at,
    )


def find(db: Session, job_id: int | str) -> ExportJob:
    job = db.get(ExportJob, int(job_id)) if str(job_id).isdigit() else None
    if job is None:
        raise NotFound("指定された出力処理は見つかりません。", code="JOB_NOT_FOUND")
    return job


def read(db: Session, job_id: int | str, *, handover_only: bool | None = None) -> JobStatus:
    job = find(db, job_id)
    if handover_only is not None and (job.kind == HANDOVER) != handover_only:
        raise NotFound("指定された出力処理は見つかりません。", code="JOB_NOT_FOUND")
    return status(job)


def recent(db: Session, *, handover: bool = False, limit: int = 10) -> list[JobStatus]:
    now = utcnow()
    kind = ExportJob.kind == HANDOVER if handover else ExportJob.kind != HANDOVER
    jobs = db.scalars(select(ExportJob).where(kind).order_by(ExportJob.id.desc()).limit(limit))
    return [status(job, now) for job in jobs]


def start(
    db: Session, clock, *, kind: str, fmt: str, encoding: str, actor: str, role: str
) -> ExportJob:
    """Record a queued job (the caller then enqueues `kariya.reports.export` with its id);
    refuses a second one of the same kind while one runs. The request is the access record."""
    if kind == HANDOVER:
        fmt, encoding = "zip", "utf-8-sig"
    else:
        exports.check_options(fmt, encoding)
        exports.kind_of(kind)
    now = utcnow()
    for job in db.scalars(
        select(ExportJob)
        .where(ExportJob.kind == kind, ExportJob.state.in_(reports_wf.UNFINISHED))
        .with_for_update()
    ):
        if not is_stale(job, now):
            raise Conflict(
                f"「{title_of(kind)}」を出力中です。完了してから、もう一度お試しください。",
                code="EXPORT_RUNNING",
            )
        fire(db, reports_wf.MACHINE, job, "give_up", actor=actor, now=now, reason=STOPPED)
        job.message, job.updated_at = STOPPED, now
    old = db.scalars(select(ExportJob.id).order_by(ExportJob.id.desc())).all()[KEEP_JOBS - 1 :]
    if old:
        db.execute(delete(ExportJobChunk).where(ExportJobChunk.job_id.in_(old)))
        db.execute(delete(ExportJob).where(ExportJob.id.in_(old)))
    job = ExportJob(
        kind=kind,
        format=fmt,
        encoding=encoding,
        state=reports_wf.S.queued,
        requested_by=actor,
        requested_at=now,
        updated_at=now,
        problems="",
    )
    db.add(job)
    db.flush()
    exports.record_export(db, actor=actor, role=role, kind=kind, now=clock.now())
    return job


class _Output:
    """The file as the export writes it (a file object that cannot seek): stored in chunks,
    committed with the progress in transactions of its own."""

    def __init__(self, session_factory, job_id: int, attempt: int):
        self._session_factory = session_factory
        self._job_id, self._attempt = job_id, attempt
        self._session: Session | None = None
        self._buffer = bytearray()
        self._seq = 0
        self._written = 0
        self._sha = hashlib.sha256()
        self._last_commit = 0.0
        self._discarded = False

    def write(self, data) -> int:
        if self._discarded:
            return len(data)
        self._buffer += data
        self._written += len(data)
        self._sha.update(data)
        while len(self._buffer) >= CHUNK_SIZE:
            self._store(bytes(self._buffer[:CHUNK_SIZE]))
            del self._buffer[:CHUNK_SIZE]
        return len(data)

    def tell(self) -> int:
        return self._written

    def flush(self) -> None:
        pass

    def _open(self) -> Session:
        if self._session is None:
            self._session = self._session_factory()
        return self._session

    def _store(self, data: bytes) -> None:
        self._open().execute(
            insert(ExportJobChunk).values(job_id=self._job_id, seq=self._seq, data=data)
        )
        self._seq += 1

    def _mine(self):
        return (
            ExportJob.id == self._job_id,
            ExportJob.attempt == self._attempt,
            ExportJob.state == reports_wf.S.running,
        )

    def progress(self, done: int, total: int) -> None:
        moment = time.monotonic()
        if done != total and moment - self._last_commit < PROGRESS_EVERY:
            return
        self._last_commit = moment
        db = self._open()
        moved = db.execute(
            update(ExportJob)
            .where(*self._mine())
            .values(done=done, total=total, updated_at=utcnow())
        ).rowcount
        if moved != 1:
            self.discard()
            raise Superseded()
        db.commit()

    def finish(self, count: int, problems: list[str]) -> None:
        if self._buffer:
            self._store(bytes(self._buffer))
            self._buffer.clear()
        db = self._open()
        job = db.scalar(select(ExportJob).where(*self._mine()).with_for_update())
        if job is None:
            self.discard()
            raise Superseded()
        now = utcnow()
        fire(db, reports_wf.MACHINE, job, "finish", actor=ACTOR, now=now)
        listed = problems[:MAX_PROBLEMS]
        if len(problems) > MAX_PROBLEMS:
            listed.append(f"ほか {len(problems) - MAX_PROBLEMS:,} か所")
        job.done, job.total, job.size = count, count, self._written
        job.sha256, job.problems = self._sha.hexdigest(), "\n".join(listed)
        if problems:
            job.message = f"表せない文字が {len(problems):,} か所ありました(一覧をご確認ください)。"
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


def _claim(session_factory, job_id: int) -> ExportJob | None:
    with session_factory.begin() as db:
        job = db.get(ExportJob, job_id, with_for_update=True)
        if job is None:
            raise NotFound("指定された出力処理は見つかりません。", code="JOB_NOT_FOUND")
        if job.state not in reports_wf.UNFINISHED:
            return None
        now = utcnow()
        event = "start" if job.state == reports_wf.S.queued else "restart"
        fire(db, reports_wf.MACHINE, job, event, actor=ACTOR, now=now)
        db.execute(delete(ExportJobChunk).where(ExportJobChunk.job_id == job_id))
        job.attempt += 1
        job.started_at, job.updated_at, job.done, job.size, job.message = now, now, 0, None, None
        db.flush()
        db.expunge(job)
        return job


def _fail(session_factory, job_id: int, attempt: int, message: str) -> None:
    with session_factory.begin() as db:
        job = db.get(ExportJob, job_id, with_for_update=True)
        if job is None or job.state != reports_wf.S.running or job.attempt != attempt:
            return
        db.execute(delete(ExportJobChunk).where(ExportJobChunk.job_id == job_id))
        fire(db, reports_wf.MACHINE, job, "fail", actor=ACTOR, now=utcnow(), reason=message)
        job.message, job.updated_at = message[:500], utcnow()


def run_job(db: Session, clock, settings, job_id: int) -> JobStatus:
    """The body of the export task: write the job's file, keeping its progress up to date.
    Running a finished or failed job again does nothing."""
    job_id = int(job_id)
    session_factory = get_session_factory(db.get_bind())
    job = _claim(session_factory, job_id)
    if job is not None:
        output = _Output(session_factory, job_id, job.attempt)
        try:
            if job.kind == HANDOVER:
                result = handover.write_zip(db, clock, output, progress=output.progress)
                count, problems = result.rows, []
            else:
                result = exports.write(
                    db, job.kind, output, job.format, job.encoding, progress=output.progress
                )
                count, problems = result.rows, [p.text() for p in result.problems]
            output.finish(count, problems)
            log.info("export done", extra={"job": job_id, "kind": job.kind, "rows": count})
        except Superseded:
            output.discard()
        except Exception as exc:
            output.discard()
            _fail(session_factory, job_id, job.attempt, getattr(exc, "message", None) or FAILED)
            log.exception("export failed", extra={"job": job_id})
            raise
    with session_factory() as fresh:
        return read(fresh, job_id)


def chunks(
    db: Session, job_id: int | str, *, handover_only: bool
) -> tuple[JobStatus, Iterator[bytes]]:
    """A finished job and its file, read chunk by chunk over a connection of its own."""
    job = find(db, job_id)
    if (job.kind == HANDOVER) != handover_only or job.state != reports_wf.S.done:
        raise NotFound("出力ファイルはまだできていません。", code="JOB_NOT_DONE")
    count = db.scalar(
        select(func.count()).select_from(ExportJobChunk).where(ExportJobChunk.job_id == job.id)
    )
    if not count and job.size:  # the erasure after the hand-over deleted the contents
        raise NotFound(job.message or "出力ファイルは削除されました。", code="FILE_ERASED")
    engine, key = db.get_bind(), job.id

    def read_chunks() -> Iterator[bytes]:
        with engine.connect() as conn:
            for seq in range(count):
                data = conn.scalar(
                    select(ExportJobChunk.data).where(
                        ExportJobChunk.job_id == key, ExportJobChunk.seq == seq
                    )
                )
                if data is None:
                    return
                yield bytes(data)
                conn.rollback()

    return status(job), read_chunks()


def latest_handover(db: Session) -> JobStatus | None:
    job = db.scalar(
        select(ExportJob)
        .where(ExportJob.kind == HANDOVER, ExportJob.state == reports_wf.S.done)
        .order_by(ExportJob.id.desc())
        .limit(1)
    )
    return status(job) if job else None
