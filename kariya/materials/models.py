"""The bulk material-set jobs (S-2), kept in the database so that the web and the workers on any
host agree on them: the job (its state, workflows.material_job, and its progress) and its ZIP,
stored in chunks of about a megabyte as the build writes it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from kariya.orm import Base, UTCDateTime
from workflows import material_job as job_wf
from workflows.binding import state_check


class MaterialJob(Base):
    """One bulk build: who asked, its state, how far it got, and what went wrong."""

    __tablename__ = "material_job"
    __table_args__ = (state_check(job_wf.MACHINE),)

    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(String(10), default=job_wf.S.queued)
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The last sign of life of its worker (progress), by the machine's real time.
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # Raised each time a worker (re)starts the build: an older attempt's writes are refused.
    attempt: Mapped[int] = mapped_column(default=0)
    done: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)
    size: Mapped[int | None] = mapped_column(BigInteger)  # bytes of the finished ZIP
    message: Mapped[str | None] = mapped_column(String(500))
    # The store manual version its sets carry: a newer published version leaves it out of date.
    manual_version: Mapped[int | None]


class MaterialJobChunk(Base):
    """A piece of a job's ZIP, in order (`seq` from 0)."""

    __tablename__ = "material_job_chunk"

    job_id: Mapped[int] = mapped_column(
        ForeignKey("material_job.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
