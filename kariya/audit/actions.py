"""The audit log of staff actions (I-10, D-1; PEERS "Personal data": logins, writes and operator
access with user, address, time, action and object): beside the access log (kariya.audit.access,
who saw which resident's data), who did what to which record, from which address, when, and with
what outcome.

What is written, and when:
- Every POST, PUT, PATCH or DELETE of a staff session (store staff, agents, the secretariat, the
  city) through the pages or the JSON API, every login attempt and logout, and the commands that
  change data (kariya.audit.commands). The request hook is views/staff_actions.py.
- An action that commits is recorded in the SAME transaction (`record`): the entry commits with
  it or not at all, so a rolled-back action never leaves "done" in the log. An action that is
  refused (4xx), fails (5xx) or is rolled back without an error (a doomed transaction) is
  recorded in a short transaction of its own (`record_apart`), because its own transaction is
  rolled back; so is a commit that fails after the entry was written (the request hook's
  after-commit hook), with the outcome `aborted`.
- Never a body: no password, no CSRF token, no text a person typed but the names of the records
  (the route's ids) and the account a login or an unlock named.
- Append only: the migration's triggers refuse UPDATE and DELETE of `staff_action`.

The machines' transition records (workflows.binding) keep who, when, from, to and why of every
state change; an entry links to the ones its transaction wrote (`transition_ids`) and never
copies them. The city and the secretariat read the log (their pages, GET
/api/v1/staff/audit-log) and export it (`kariya export staff-actions`, kind `staff-actions`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, literal, or_, select
from sqlalchemy.orm import Session

from kariya.audit.action_labels import MACHINE_TITLES, OUTCOME_LABELS, label
from kariya.audit.models import StaffAction
from kariya.clock import make_clock, to_jst
from kariya.errors import Invalid
from kariya.settings import Settings
from workflows import BY_NAME as MACHINES
from workflows.binding import TransitionRecord
from workflows.binding import label as state_label

log = logging.getLogger(__name__)

DONE, REFUSED, ERROR, ABORTED = "done", "refused", "error", "aborted"
COMMIT_FAILED = "COMMIT_FAILED"  # the detail of an action whose commit failed
LINKED_IDS = 8  # transition record ids kept per entry (with the count of all of them)
_WORD = re.compile(r"[\s=\x00-\x1f\x7f\ud800-\udfff]+")  # what may not be inside a word
_UNFIT = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")

HEADER = [
    "日時",
    "操作者",
    "役割",
    "接続元",
    "操作",
    "操作の識別子",
    "方法",
    "対象",
    "結果",
    "ステータス",
    "内容",
    "状態遷移の記録(番号)",
    "状態遷移の件数",
]


@dataclasses.dataclass(frozen=True)
class Entry:
    """One action: who (the actor as transition records name it, `staff:<username>`, and the
    role), from where, what (`action`, `method`), on which record, and how it ended."""

    actor: str
    role: str
    address: str
    action: str
    method: str
    record: str = ""
    status: int = 200
    outcome: str = DONE
    detail: str = ""
    transition_ids: tuple[int, ...] = ()
    transitions: int = 0


def outcome_of(status: int, committed: bool) -> str:
    if status >= 500:
        return ERROR
    if status >= 400:
        return REFUSED
    return DONE if committed else ABORTED


def record_words(values: Mapping[str, object]) -> str:
    """The record acted on as `key=value` words (`id=12`, `kind=store_manual number=2`), in
    their order; spaces and `=` inside a value are dropped so that every word stays one."""
    words = [f"{key}={_WORD.sub('', str(value))[:64]}" for key, value in values.items()]
    return " ".join(words)[:200]


def _clean(text: str, limit: int) -> str:
    return _UNFIT.sub("", text or "")[:limit]


def record(db: Session, now: dt.datetime, entry: Entry) -> None:
    """Write the entry in the caller's transaction: it commits with the action or not at all."""
    db.execute(
        insert(StaffAction).values(
            at=now,
            actor=_clean(entry.actor, 100),
            role=_clean(entry.role, 20),
            address=_clean(entry.address, 64),
            action=_clean(entry.action, 80),
            method=_clean(entry.method, 10),
            record=_clean(entry.record, 200),
            status=entry.status,
            outcome=entry.outcome,
            detail=_clean(entry.detail, 200),
            transition_ids=",".join(str(i) for i in entry.transition_ids[:LINKED_IDS]),
            transitions=entry.transitions,
        )
    )


def linking(entry: Entry, written: list[int]) -> Entry:
    """The entry linked to the transition records its transaction wrote."""
    if not written:
        return entry
    return dataclasses.replace(
        entry, transition_ids=tuple(written[:LINKED_IDS]), transitions=len(written)
    )


def record_apart(
    session_factory, entry: Entry, *, settings: Settings, now: dt.datetime | None = None
) -> None:
    """Write the entry in a transaction of its own (an action refused, failed or rolled back,
    whose own transaction writes nothing). Never raises: the answer must still go out."""
    try:
        with session_factory() as db, db.begin():
            record(db, now or make_clock(settings, db).now(), entry)
    except Exception:
        log.exception("could not write the staff action", extra={"action": entry.action})


# --- reading ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Filters:
    """What the city narrows the log to: an account (`city1` or `staff:city1`), an action (its
    name, or the name before its `.approve`), a time range [since, until), a record (words
    `key=value`, or values alone: `12` finds id=12; `kind=terms number=2` both), an outcome."""

    actor: str = ""
    action: str = ""
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    record: str = ""
    outcome: str = ""

    def where(self) -> list:
        found = []
        if self.actor:
            actor = self.actor.strip()
            found.append(StaffAction.actor.in_((actor, f"staff:{actor}")))
        if self.action:
            found.append(
                or_(
                    StaffAction.action == self.action,
                    StaffAction.action.startswith(self.action + ".", autoescape=True),
                )
            )
        if self.since is not None:
            found.append(StaffAction.at >= self.since)
        if self.until is not None:
            found.append(StaffAction.at < self.until)
        padded = literal(" ") + StaffAction.record + literal(" ")
        for word in self.record.split():  # every word given: `id=12`, or a value alone
            key, _, value = word.rpartition("=")
            needle = f" {key}={value} " if key else f"={value} "
            found.append(padded.contains(needle, autoescape=True))
        if self.outcome:
            found.append(StaffAction.outcome == self.outcome)
        return found


def _text(params: Mapping[str, str], name: str, what: str, limit: int = 100) -> str:
    value = (params.get(name) or "").strip()
    if len(value) > limit or _UNFIT.search(value):
        raise Invalid(f"{what}は{limit}文字以内で、制御文字を含めずに入力してください。")
    return value


def _day(params: Mapping[str, str], name: str, what: str, zone: ZoneInfo) -> dt.datetime | None:
    value = (params.get(name) or "").strip()
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{what}は 2024-01-15 の形で入力してください。") from None
    return dt.datetime.combine(day, dt.time(), zone)


def parse_filters(params: Mapping[str, str], zone: ZoneInfo) -> Filters:
    """The page's form: account, action, from and to (days, both included, in the campaign's
    zone), record, outcome. Anything else than the form offers is refused in Japanese."""
    since = _day(params, "from", "開始日", zone)
    until = _day(params, "to", "終了日", zone)
    if since and until and until < since:
        raise Invalid("終了日は開始日以降の日にしてください。")
    outcome = _text(params, "outcome", "結果", 12)
    if outcome and outcome not in OUTCOME_LABELS:
        raise Invalid("結果は一覧から選んでください。")
    return Filters(
        actor=_text(params, "actor", "操作者"),
        action=_text(params, "action", "操作", 80),
        since=since,
        until=until + dt.timedelta(days=1) if until else None,
        record=_text(params, "record", "対象"),
        outcome=outcome,
    )


@dataclasses.dataclass(frozen=True)
class Page:
    entries: list[StaffAction]
    total: int
    number: int
    size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))


def search(db: Session, filters: Filters, *, page: int = 1, size: int = 50) -> Page:
    """One page of the entries that match, the newest first."""
    where = filters.where()
    total = db.scalar(select(func.count()).select_from(StaffAction).where(*where)) or 0
    page = max(1, min(page, max(1, -(-total // size))))
    found = db.scalars(
        select(StaffAction)
        .where(*where)
        .order_by(StaffAction.at.desc(), StaffAction.id.desc())
        .offset((page - 1) * size)
        .limit(size)
    )
    return Page(list(found), total, page, size)


def entries(db: Session, filters: Filters, limit: int = 5000) -> list[StaffAction]:
    """The entries that match, oldest first (the API)."""
    query = select(StaffAction).where(*filters.where())
    return list(db.scalars(query.order_by(StaffAction.at, StaffAction.id).limit(limit)))


def ids_of(entry: StaffAction) -> list[int]:
    return [int(i) for i in entry.transition_ids.split(",") if i]


def entry_json(entry: StaffAction) -> dict:
    return {
        "id": entry.id,
        "at": to_jst(entry.at).isoformat(),
        "actor": entry.actor,
        "role": entry.role,
        "address": entry.address,
        "action": entry.action,
        "label": label(entry.action),
        "method": entry.method,
        "record": entry.record,
        "status": entry.status,
        "outcome": entry.outcome,
        "detail": entry.detail,
        "transition_ids": ids_of(entry),
        "transitions": entry.transitions,
    }


@dataclasses.dataclass(frozen=True)
class Transition:
    """A linked transition record as the log's reader sees it."""

    id: int
    title: str  # the machine's record: 支払バッチ No.12
    event: str
    from_state: str
    to_state: str


def linked(db: Session, found: Iterable[StaffAction]) -> dict[int, Transition]:
    """The transition records the entries link to, by id, in the machines' own words."""
    wanted = {i for entry in found for i in ids_of(entry)}
    if not wanted:
        return {}
    result = {}
    for row in db.scalars(select(TransitionRecord).where(TransitionRecord.id.in_(wanted))):
        machine = MACHINES.get(row.machine)
        if machine is None:  # a machine since removed: its own words are gone
            event, before, after = row.event, row.from_state, row.to_state
        else:
            event = machine.kariya_labels.get("event:" + row.event, row.event)
            before, after = state_label(machine, row.from_state), state_label(machine, row.to_state)
        title = f"{MACHINE_TITLES.get(row.machine, row.machine)} No.{row.entity_id}"
        result[row.id] = Transition(row.id, title, event, before, after)
    return result


def rows(db: Session, filters: Filters | None = None) -> Iterator[list]:
    """The log as a table (the export), oldest first, streamed. Every text a person may have
    typed (an account name at a failed login) goes out as text; kariya.reports.sheets writes
    it as a string cell, never a formula."""
    query = select(StaffAction).where(*(filters or Filters()).where())
    found = db.scalars(
        query.order_by(StaffAction.at, StaffAction.id).execution_options(yield_per=1000)
    )
    for e in found:
        yield [
            to_jst(e.at).strftime("%Y-%m-%d %H:%M:%S"),
            e.actor,
            e.role,
            e.address,
            label(e.action),
            e.action,
            e.method,
            e.record,
            OUTCOME_LABELS.get(e.outcome, e.outcome),
            e.status,
            e.detail,
            e.transition_ids,
            e.transitions,
        ]


def count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(StaffAction)) or 0
