"""Apply a machine's transition to a row: compare-and-set on the old state, then record it.

The machines are module-level `transitions.Machine`s built with `model=None`; the state lives in
the database. `fire` runs the event on a small proxy (so the machine's conditions and destination
rules apply), then writes `UPDATE ... SET state = :to WHERE id = :id AND state = :from`. A lost
race or an event the machine refuses raises IllegalTransition with a Japanese message, and
nothing is written.

A machine's STATES list is the only list of its states: services name them through
`state_names` (`round_wf.S.open`), state sets come from `sources`, and the table's CHECK
constraint from `state_check`. Every transition of every machine is kept as a
TransitionRecord (who, when, from, to, why), defined here beside `fire`, which writes it.
"""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Iterable
from typing import NamedTuple

from sqlalchemy import BigInteger, CheckConstraint, Index, String, insert, literal, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.orm.attributes import set_committed_value
from transitions import Machine, MachineError

from kariya.errors import IllegalTransition
from kariya.orm import Base, UTCDateTime


class TransitionRecord(Base):
    """Who moved which row from which state to which, when and why (every machine)."""

    __tablename__ = "transition_record"
    __table_args__ = (Index("ix_transition_record_entity", "machine", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    machine: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    event: Mapped[str] = mapped_column(String(30))
    from_state: Mapped[str] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(500), default="")
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Move(NamedTuple):
    """One row's move for the transition record; from_state == to_state for an event that is
    recorded in the row's history without changing its state (a QR reissue, an import)."""

    entity_id: int
    event: str
    from_state: str
    to_state: str
    reason: str = ""


# Where a session keeps the ids of the transition records it wrote (`db.info[WRITTEN]`): the
# audit log of staff actions links to them instead of writing who/from/to a second time.
WRITTEN = "kariya.transition_records"


def written(db: Session) -> list[int]:
    """The ids of the transition records this session has written, in order."""
    return db.info.get(WRITTEN, [])


def record(
    db: Session, machine: Machine, moves: Iterable[Move], *, actor: str, now: dt.datetime
) -> None:
    """Write the transition record of `moves` (who, when, from, to, why), in one INSERT; the
    new ids are kept in the session (`written`)."""
    rows = [
        dict(
            machine=machine.kariya_name,
            entity_id=move.entity_id,
            event=move.event,
            from_state=move.from_state,
            to_state=move.to_state,
            actor=actor,
            reason=(move.reason or "")[:500],
            at=now,
        )
        for move in moves
    ]
    if rows:
        ids = db.execute(insert(TransitionRecord).returning(TransitionRecord.id), rows).scalars()
        db.info.setdefault(WRITTEN, []).extend(ids)


def define(
    name: str, states, transitions, initial, labels: dict[str, str], *, attribute: str = "state"
) -> Machine:
    """A module-level machine over rows whose column `attribute` holds the state."""
    machine = Machine(
        model=None,
        states=list(states),
        transitions=transitions,
        initial=initial,
        auto_transitions=False,
        send_event=True,
        model_attribute=attribute,
        name=name,
    )
    machine.kariya_name = name
    machine.kariya_attribute = attribute
    machine.kariya_labels = labels
    return machine


class StateNames:
    """A machine's states as read-only attributes whose values are the state strings:
    `S.open == "open"`. A misspelt name is an AttributeError, not a comparison that is false
    forever. Iterating gives the states in the machine's order."""

    __slots__ = ("__dict__", "_machine")

    def __init__(self, machine: Machine) -> None:
        object.__setattr__(self, "_machine", machine.kariya_name)
        self.__dict__.update({state: state for state in machine.states})

    def __getattr__(self, name: str) -> str:
        raise AttributeError(f"machine {self._machine!r} has no state {name!r}")

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError("a machine's states are read-only")

    def __iter__(self):
        return iter(self.__dict__)

    def __contains__(self, state: object) -> bool:
        return state in self.__dict__

    def __repr__(self) -> str:
        return f"<states of {self._machine}: {', '.join(self.__dict__)}>"


def state_names(machine: Machine) -> StateNames:
    return StateNames(machine)


def sources(machine: Machine, *events: str) -> list[str]:
    """The states from which any of `events` may fire, in the machine's order."""
    found = {s for event in events for s in machine.events[event].transitions}
    return [s for s in machine.states if s in found]


def state_check(machine: Machine, column: str = "state") -> CheckConstraint:
    """The table's CHECK constraint `<column> IN (<the machine's states>)`, named `column` (so
    `ck_<table>_state` under the naming convention); `info["machine"]` says which machine."""
    listed = ", ".join(f"'{s}'" for s in machine.states)
    return CheckConstraint(
        f"{column} IN ({listed})", name=column, info={"machine": machine.kariya_name}
    )


def label(machine: Machine, state: str) -> str:
    return machine.kariya_labels.get(state, state)


def _refuse(machine: Machine, event: str, state: str) -> IllegalTransition:
    return IllegalTransition(
        f"「{label(machine, state)}」の状態からは「{machine.kariya_labels.get('event:' + event, event)}」"
        "を行えません。",
        details={"machine": machine.kariya_name, "event": event, "state": state},
    )


def fire(
    db: Session,
    machine: Machine,
    row,
    event: str,
    *,
    actor: str,
    now: dt.datetime,
    reason: str = "",
    **context,
) -> str:
    """Fire `event` on `row`; returns the new state."""
    if event not in machine.events:
        raise ValueError(f"{machine.kariya_name} has no event {event!r}")
    column = machine.kariya_attribute
    old = getattr(row, column)
    proxy = types.SimpleNamespace(**{column: old}, row=row, context=context)
    try:
        moved = machine.events[event].trigger(proxy)
    except MachineError:
        raise _refuse(machine, event, old) from None
    if not moved:
        raise _refuse(machine, event, old)
    new = getattr(proxy, column)
    table = type(row).__table__
    result = db.execute(
        update(table).where(table.c.id == row.id, table.c[column] == old).values({column: new})
    )
    if result.rowcount != 1:
        raise _refuse(machine, event, "(他の処理で変更済み)")
    set_committed_value(row, column, new)
    record(db, machine, [Move(row.id, event, old, new, reason)], actor=actor, now=now)
    return new


def fire_bulk(
    db: Session,
    machine: Machine,
    table,
    where: Iterable,
    event: str,
    *,
    actor: str,
    now: dt.datetime,
    reason: str = "",
    also: dict | None = None,
) -> list[int]:
    """A set-based transition (e.g. expire a round's coupons): one UPDATE for every row in one
    of the event's source states that also matches `where`; records each row moved. `also`:
    other columns the same UPDATE sets on the rows it moves (a used coupon's `used_at`)."""
    transitions = machine.events[event].transitions
    together = db.get_bind().dialect.name == "postgresql"
    moved_ids: list[int] = []
    for source, candidates in transitions.items():
        dest = candidates[0].dest
        moving = (
            update(table)
            .where(table.c[machine.kariya_attribute] == source, *where)
            .values({**(also or {}), machine.kariya_attribute: dest})
            .returning(table.c.id)
        )
        if together:
            ids = _move_and_record(db, machine, moving, event, source, dest, reason, actor, now)
        else:
            ids = list(db.execute(moving).scalars())
            moves = [Move(i, event, source, dest, reason) for i in ids]
            record(db, machine, moves, actor=actor, now=now)
        moved_ids.extend(ids)
    return moved_ids


def _move_and_record(
    db: Session,
    machine: Machine,
    moving,
    event: str,
    source: str,
    dest: str,
    reason: str,
    actor: str,
    now: dt.datetime,
) -> list[int]:
    """PostgreSQL: the UPDATE `moving` (RETURNING the ids it moved) and the transition record of
    every row it moved as one statement (`WITH moved AS (UPDATE ...) INSERT ... SELECT FROM
    moved`): one round trip, the same rows as `record` writes."""
    moved = moving.cte("moved")
    records = TransitionRecord.__table__
    columns = {
        "machine": machine.kariya_name,
        "event": event,
        "from_state": source,
        "to_state": dest,
        "actor": actor,
        "reason": (reason or "")[:500],
        "at": now,
    }
    rows = select(
        moved.c.id, *(literal(value, records.c[name].type) for name, value in columns.items())
    ).order_by(moved.c.id)
    written_rows = db.execute(
        insert(records)
        .from_select(["entity_id", *columns], rows)
        .returning(records.c.id, records.c.entity_id)
    ).all()
    written_rows.sort()
    db.info.setdefault(WRITTEN, []).extend(record_id for record_id, _entity in written_rows)
    return [entity_id for _record, entity_id in written_rows]


def mermaid(machine: Machine) -> str:
    """The machine as a Mermaid state diagram (no graphviz needed)."""
    lines = ["stateDiagram-v2", f"    [*] --> {machine.initial}"]
    for name, event in machine.events.items():
        for source, candidates in event.transitions.items():
            for t in candidates:
                lines.append(f"    {source} --> {t.dest}: {name}")
    return "\n".join(lines) + "\n"
