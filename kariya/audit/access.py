"""The access log (D-1; PEERS "Personal data"): every look-up of a resident's personal data and
every export writes a record of who (account and role), when, what, whose (the resident's
`person_ref`, or what was exported) and why (the inquiry it serves). A refused attempt by staff
is written too, in a transaction of its own, since the refusal rolls the request back.

The city and the secretariat read it (GET /api/v1/staff/access-log, their pages) and export it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from kariya.audit.models import AccessRecord
from kariya.clock import to_jst

log = logging.getLogger(__name__)

# The actions written (what the auditors filter on).
SEARCH = "resident.search"
VIEW = "resident.view"
TRANSFER_REQUEST = "transfer.request"
TRANSFER_APPROVE = "transfer.approve"
DENIED = "denied"

ACTION_LABELS = {
    SEARCH: "市民の検索",
    VIEW: "市民の利用状況の表示",
    TRANSFER_REQUEST: "アカウント移行の申請",
    TRANSFER_APPROVE: "アカウント移行の承認",
    DENIED: "権限のない操作(拒否)",
}

HEADER = ["日時", "操作者", "役割", "操作", "対象", "問い合わせNo.", "内容", "接続元"]


def export_action(kind: str) -> str:
    return f"export.{kind}"


def action_label(action: str) -> str:
    if action.startswith("export."):
        return f"データの出力({action.removeprefix('export.')})"
    return ACTION_LABELS.get(action, action)


@dataclasses.dataclass(frozen=True)
class Viewer:
    """Who looks: the actor as transition records name it (`staff:agent1`), the role, and the
    address the request came from."""

    actor: str
    role: str
    address: str = ""


def record(
    db: Session,
    now: dt.datetime,
    viewer: Viewer,
    action: str,
    *,
    subject: str = "",
    inquiry_id: int | None = None,
    detail: str = "",
) -> None:
    """Write one access record in the caller's transaction (it commits with the look-up)."""
    db.execute(
        insert(AccessRecord).values(
            at=now,
            actor=viewer.actor[:100],
            role=viewer.role[:20],
            action=action[:40],
            subject=(subject or "")[:100],
            inquiry_id=inquiry_id,
            detail=(detail or "")[:300],
            address=(viewer.address or "")[:64],
        )
    )


def record_apart(session_factory, now: dt.datetime, viewer: Viewer, action: str, **kw) -> None:
    """Write a record in a transaction of its own (a refusal, whose request rolls back). Never
    raises: the refusal itself must still be answered."""
    try:
        with session_factory() as db, db.begin():
            record(db, now, viewer, action, **kw)
    except Exception:
        log.exception("could not write the access record", extra={"action": action})


def entries(db: Session, since: dt.datetime | None = None, limit: int = 5000) -> list[AccessRecord]:
    """The records from `since` on, oldest first."""
    query = select(AccessRecord).order_by(AccessRecord.at, AccessRecord.id)
    if since is not None:
        query = query.where(AccessRecord.at >= since)
    return list(db.scalars(query.limit(limit)))


def latest(db: Session, limit: int = 200) -> list[AccessRecord]:
    """The newest records first (the pages)."""
    query = select(AccessRecord).order_by(AccessRecord.at.desc(), AccessRecord.id.desc())
    return list(db.scalars(query.limit(limit)))


def entry_json(entry: AccessRecord) -> dict:
    return {
        "at": to_jst(entry.at).isoformat(),
        "actor": entry.actor,
        "role": entry.role,
        "action": entry.action,
        "subject": entry.subject,
        "inquiry_id": entry.inquiry_id,
    }


def rows(db: Session, since: dt.datetime | None = None) -> tuple[list[str], list[list]]:
    """The access log as a table (the exports), oldest first."""
    query = select(AccessRecord).order_by(AccessRecord.at, AccessRecord.id)
    if since is not None:
        query = query.where(AccessRecord.at >= since)
    found = db.scalars(query.execution_options(yield_per=1000))
    return HEADER, [
        [
            to_jst(e.at).strftime("%Y-%m-%d %H:%M:%S"),
            e.actor,
            e.role,
            action_label(e.action),
            e.subject,
            e.inquiry_id if e.inquiry_id is not None else "",
            e.detail,
            e.address,
        ]
        for e in found
    ]
