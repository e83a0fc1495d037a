"""Applying the plan: create and update the stores in the caller's transaction, all or nothing,
record it in each store's history, and with `activate` take the stores through to active."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kariya.stores import registration
from kariya.stores.finder import store_search_text
from kariya.stores.importer.planning import preview
from kariya.stores.importer.report import Report, errors_refusal
from workflows import store as store_wf
from workflows.binding import Move, record
from workflows.binding import label as state_label

LOCK_KEY = 0x4B53_5449  # pg_advisory_xact_lock: one import at a time

HISTORY_LABELS = {
    "import_create": "一括取込(新規登録)",
    "import_update": "一括取込(登録内容の変更)",
    "reissue_qr": "QRコード再発行",
    "bank_change": "振込先口座の変更",
}


def apply(
    db: Session,
    clock,
    data: bytes,
    *,
    actor: str,
    activate: bool = False,
    filename: str = "",
) -> Report:
    """Create and update the stores of the file in the caller's transaction, all or nothing.
    With `activate`, every store of the file still on its way (applied, under review, approved)
    is taken to active, its QR code issued; a suspended, withdrawn or rejected store is left as
    it is and named in the report. Raises Invalid (details: one line per error) if any row is wrong."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(select(func.pg_advisory_xact_lock(LOCK_KEY)))  # one import at a time
    report = preview(db, data, filename=filename)
    if not report.ok:
        raise errors_refusal(report)
    now = clock.now()
    source = f"一括取込 {filename}".strip()
    history = []
    for row in report.rows:
        if row.action == "create":
            store = registration.create(db, clock, **row.values)
            row.store = store
            history.append((store, "import_create", source))
        elif row.action == "update":
            store = row.store
            for key, value in row.values.items():
                setattr(store, key, value)
            store.search_text = store_search_text(store)
            store.updated_at = now
            changed = "、".join(c.label for c in row.changes)
            history.append((store, "import_update", f"{source}: {changed}"))
    db.flush()
    record(
        db,
        store_wf.MACHINE,
        [
            Move(store.id, event, store.state, store.state, reason)
            for store, event, reason in history
        ],
        actor=actor,
        now=now,
    )
    if activate:
        for row in report.rows:
            if row.store.state == store_wf.S.active:
                continue
            if registration.activate_all_the_way(db, clock, row.store, actor=actor):
                report.activated += 1
            else:
                report.not_activated.append(
                    f"{row.code} {row.name}: {state_label(store_wf.MACHINE, row.store.state)}"
                    "のため利用可能にしていません。"
                )
    report.applied = True
    return report


def import_stores(
    db: Session,
    clock,
    data: bytes,
    *,
    actor: str,
    dry_run: bool = True,
    activate: bool = False,
    filename: str = "",
) -> Report:
    """The dry run (the default) or the import itself."""
    if dry_run:
        return preview(db, data, filename=filename)
    return apply(db, clock, data, actor=actor, activate=activate, filename=filename)
