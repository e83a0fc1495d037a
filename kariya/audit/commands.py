"""The commands that change data, in the audit log of staff actions (kariya.audit.actions).

`kariya` (kariya/cli.py) describes the command it runs (`describe`); when the command's unit of
work is about to commit (`unit_of_work`, which the data-changing commands use), the entry is
written in that same transaction; a command refused (a DomainError) or crashed is recorded in a
transaction of its own. The actor is the staff account named by `--as` (its role from the
account), else `cli:<the operating-system user>` with the role `batch`; the address is
`cli:<host name>`. Never an argument that is not a record's name: no password.
"""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import socket
from pathlib import PurePath

from sqlalchemy import select

from kariya.audit import actions
from kariya.audit.action_labels import LABELS
from kariya.clock import make_clock
from kariya.db import unit_of_work as plain_unit_of_work
from kariya.settings import settings_of
from kariya.staff.models import StaffUser
from workflows.binding import written

RUNNING = "kariya.audit.command"  # the registry's key for the command being run
# The arguments that name the record acted on, and the word the log gives each.
RECORD_ARGUMENTS = {
    "batch": "id",
    "request": "id",
    "name": "account",
    "role": "role",
    "store": "store",
    "file": "file",
}
FLAGS = ("dry_run", "activate")


@dataclasses.dataclass
class Running:
    action: str
    as_user: str | None
    record: str
    detail: str
    written: bool = False

    def entry(self, db, *, status: int, outcome: str) -> actions.Entry:
        actor, role = f"cli:{_os_user()}", "batch"
        if self.as_user:
            actor = f"staff:{self.as_user}"
            role = db.scalar(select(StaffUser.role).where(StaffUser.username == self.as_user)) or ""
        return actions.Entry(
            actor=actor,
            role=role,
            address=f"cli:{socket.gethostname()}",
            action=self.action,
            method="CLI",
            record=self.record,
            status=status,
            outcome=outcome,
            detail=self.detail,
        )


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (a container)
        return "unknown"


def describe(args) -> Running | None:
    """What the log says of the command `args` names; None for a command that changes no data
    (reading, exporting: the access log keeps exports) or is time-driven (`tick`)."""
    sub = getattr(args, "payouts_command", None) or getattr(args, "erasure_command", None)
    action = f"cli.{args.command}" + (f".{sub}" if sub else "")
    if action not in LABELS:
        return None
    named = {}
    for argument, word in RECORD_ARGUMENTS.items():
        value = getattr(args, argument, None)
        if value not in (None, ""):
            named[word] = PurePath(value).name if argument == "file" else value
    flags = [f"--{flag.replace('_', '-')}" for flag in FLAGS if getattr(args, flag, False)]
    return Running(
        action=action,
        as_user=getattr(args, "as_user", None),
        record=actions.record_words(named),
        detail=" ".join(flags),
    )


def start(registry, running: Running | None) -> None:
    registry[RUNNING] = running


@contextlib.contextmanager
def unit_of_work(registry):
    """kariya.db.unit_of_work, writing the running command's entry into its transaction just
    before it commits (once per command; again apart if that commit fails)."""
    running = registry.get(RUNNING)
    writes = running is not None and not running.written
    with plain_unit_of_work(registry) as db:
        yield db
        if writes:
            now = make_clock(settings_of(registry), db).now()
            entry = running.entry(db, status=200, outcome=actions.DONE)
            actions.record(db, now, actions.linking(entry, written(db)))
    if writes:  # committed
        running.written = True


def finished(registry, status: int) -> None:
    """The command ended with an error (`status`: the error's, 500 for a crash): its own
    transaction wrote nothing, so the entry goes into one of its own."""
    running = registry.get(RUNNING)
    if running is None or running.written:
        return
    factory = registry["db.session_factory"]
    with factory() as db:
        entry = running.entry(db, status=status, outcome=actions.outcome_of(status, False))
    actions.record_apart(factory, entry, settings=settings_of(registry))
    running.written = True
