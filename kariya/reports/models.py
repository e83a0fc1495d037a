"""The city's view (C-1..C-3, D-2): the dashboard's aggregate snapshot, the export and hand-over
jobs with their files, the status reports built after each round, and the erasure requests that
follow the hand-over."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kariya.orm import Base, UTCDateTime
from workflows import reports as reports_wf
from workflows.binding import state_check


class DashboardSnapshot(Base):
    """The latest figures of one campaign (JSON), refreshed by the beat every minute, by
    `kariya tick` and on demand; never by the redemption or acquisition transactions."""

    __tablename__ = "dashboard_snapshot"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), primary_key=True)
    as_of: Mapped[dt.datetime] = mapped_column(UTCDateTime)  # the clock's now of the figures
    figures: Mapped[str] = mapped_column(Text)
    refreshed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)  # the machine's real time
    duration_ms: Mapped[int] = mapped_column(default=0)


class ExportJob(Base):
    """One export (a kind of kariya.reports.exports) or hand-over ZIP: who asked, its state
    (workflows.reports.MACHINE), how far it got, and the cells it had to change (cp932)."""

    __tablename__ = "export_job"
    __table_args__ = (state_check(reports_wf.MACHINE),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    format: Mapped[str] = mapped_column(String(10))  # csv, xlsx, zip
    encoding: Mapped[str] = mapped_column(String(10))  # utf-8-sig, cp932
    state: Mapped[str] = mapped_column(String(10), default=reports_wf.S.queued)
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The last sign of life of its worker (progress), by the machine's real time.
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    attempt: Mapped[int] = mapped_column(default=0)
    done: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str | None] = mapped_column(String(500))
    problems: Mapped[str] = mapped_column(Text, default="")  # one cell a line (cp932)


class ExportJobChunk(Base):
    """A piece of a job's file, in order (`seq` from 0)."""

    __tablename__ = "export_job_chunk"

    job_id: Mapped[int] = mapped_column(
        ForeignKey("export_job.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class StatusReport(Base):
    """A round's status report (C-3), built once after the round settles and mailed to the
    city's contacts; its workbook and its PDF are kept as built."""

    __tablename__ = "status_report"
    __table_args__ = (UniqueConstraint("campaign_id", "round_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    round_number: Mapped[int]
    as_of: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    xlsx: Mapped[bytes] = mapped_column(LargeBinary)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    mailed_to: Mapped[int] = mapped_column(default=0)  # contacts it was queued to


class ErasureRequest(Base):
    """The erasure of the residents' personal data after a hand-over (workflows.reports.ERASURE):
    requested by the secretariat, approved by a city approver who is not the requester,
    executed once; `proof` says what remains, `proof_sha256` fingerprints it."""

    __tablename__ = "erasure_request"
    __table_args__ = (state_check(reports_wf.ERASURE),)

    id: Mapped[int] = mapped_column(primary_key=True)
    handover_sha256: Mapped[str] = mapped_column(String(64))  # the ZIP the city received
    state: Mapped[str] = mapped_column(String(10), default=reports_wf.E.requested)
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decision_reason: Mapped[str] = mapped_column(String(500), default="")
    executed_by: Mapped[str | None] = mapped_column(String(100))
    executed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    proof: Mapped[str] = mapped_column(Text, default="")
    proof_sha256: Mapped[str | None] = mapped_column(String(64))
