"""The machines in workflows/ are the only list of states: every table whose rows a machine
moves has a CHECK constraint equal to that machine's states, in the models and in the database
the migrations build (PostgreSQL and SQLite); code names states and events that exist."""

from __future__ import annotations

import ast
import importlib
import pathlib
import pkgutil
import re

import pytest
import sqlalchemy as sa
from transitions import Machine

import workflows
from kariya.migrations import upgrade
from kariya.models import Base
from workflows.binding import StateNames, sources

ROOT = pathlib.Path(__file__).resolve().parents[2]
QUOTED = re.compile(r"'([^']*)'")


def _machine_modules():
    for info in pkgutil.iter_modules(workflows.__path__):
        module = importlib.import_module(f"workflows.{info.name}")
        if hasattr(module, "MACHINE"):
            yield module


def _machines_of(module) -> list[Machine]:
    """Every machine a workflows module defines (payout has the batch's and its lines')."""
    return [v for v in vars(module).values() if isinstance(v, Machine)]


def _derived_checks(table: sa.Table) -> list[sa.CheckConstraint]:
    return [
        c
        for c in table.constraints
        if isinstance(c, sa.CheckConstraint) and c.info.get("machine") is not None
    ]


def _state_tables() -> dict[str, sa.Table]:
    """Every table with a `state` column, or with a state constraint derived from a machine
    (payout_line.status): each must be moved by one machine."""
    return {
        t.name: t
        for t in Base.metadata.tables.values()
        if "state" in t.columns or _derived_checks(t)
    }


def _state_check(table: sa.Table) -> sa.CheckConstraint:
    found = _derived_checks(table) or [
        c
        for c in table.constraints
        if isinstance(c, sa.CheckConstraint) and c.name == f"ck_{table.name}_state"
    ]
    assert len(found) == 1, f"{table.name} has no CHECK constraint on its state"
    return found[0]


def _column_of(table: sa.Table) -> str:
    return _machine_of(table).kariya_attribute


def _machine_of(table: sa.Table):
    name = _state_check(table).info.get("machine")
    assert name in workflows.BY_NAME, (
        f"{table.name}'s state constraint is not derived from a machine (binding.state_check)"
    )
    return workflows.BY_NAME[name]


def _expected() -> dict[str, list[str]]:
    """Constraint name -> the states of the machine behind its table, in the machine's order."""
    return {
        f"ck_{name}_{_column_of(table)}": list(_machine_of(table).states)
        for name, table in _state_tables().items()
    }


def test_every_machine_module_is_in_the_registry():
    machines = [m for module in _machine_modules() for m in _machines_of(module)]
    assert {m.kariya_name for m in machines} == set(workflows.BY_NAME)
    assert len(workflows.ALL) == len(workflows.BY_NAME) == len(machines)


def test_each_machine_names_its_states_from_its_states_list():
    for module in _machine_modules():
        assert list(module.MACHINE.states) == list(module.STATES)
        assert isinstance(module.S, StateNames)
        assert list(module.S) == list(module.STATES)
        assert all(getattr(module.S, s) == s for s in module.STATES)
    from workflows import inquiry, payout

    assert list(payout.LINE.states) == list(payout.LINE_STATES) == list(payout.L)
    assert list(payout.ADJUSTMENT.states) == list(payout.ADJUSTMENT_STATES) == list(payout.A)
    assert list(inquiry.TRANSFER.states) == list(inquiry.TRANSFER_STATES) == list(inquiry.T)
    from workflows import store

    assert list(store.BANK_CHANGE.states) == list(store.BANK_CHANGE_STATES) == list(store.B)


def test_a_misspelt_state_is_an_error_not_a_silent_mismatch():
    from workflows import round as round_wf

    assert round_wf.S.open == "open"
    with pytest.raises(AttributeError, match="no state 'opne'"):
        _ = round_wf.S.opne
    with pytest.raises(AttributeError):
        round_wf.S.open = "closed"


def test_sources_are_in_the_machines_order():
    from workflows import round as round_wf

    assert sources(round_wf.MACHINE, "close") == ["open", "sold_out", "halted"]
    assert sources(round_wf.MACHINE, "settle", "open") == ["scheduled", "closed"]


def test_every_machine_backs_a_table_and_every_state_table_has_a_machine():
    machines = [_machine_of(t).kariya_name for t in _state_tables().values()]
    assert sorted(machines) == sorted(workflows.BY_NAME), "one table per machine"


def test_model_constraints_and_defaults_equal_the_machines():
    for name, table in _state_tables().items():
        machine = _machine_of(table)
        column = machine.kariya_attribute
        text = str(_state_check(table).sqltext)
        assert re.fullmatch(rf"{column} IN \(.*\)", text), text
        assert QUOTED.findall(text) == list(machine.states), name
        if table.c[column].default is not None:  # a line is built included or held, no default
            assert table.c[column].default.arg == machine.initial, name


def test_postgresql_constraints_equal_the_machines(engine):
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c"
                " JOIN pg_namespace n ON n.oid = c.connamespace"
                " WHERE c.contype = 'c' AND n.nspname = current_schema()"
            )
        ).all()
    expected = _expected()
    found = {
        name: QUOTED.findall(definition)
        for name, definition in rows
        if name in expected or name.endswith("_state")
    }
    assert found == expected


def test_sqlite_constraints_equal_the_machines(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'k.sqlite'}")
    upgrade(engine)
    with engine.connect() as connection:
        inspector = sa.inspect(connection)
        found = {
            c["name"]: QUOTED.findall(c["sqltext"])
            for table in inspector.get_table_names()
            for c in inspector.get_check_constraints(table)
            if c["name"] == f"ck_{table}_state" or c["name"] in _expected()
        }
    engine.dispose()
    assert found == _expected()


def _workflow_aliases(tree: ast.Module) -> dict[str, object]:
    """`from workflows import round as round_wf` -> {"round_wf": workflows.round}."""
    aliases = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "workflows":
            for alias in node.names:
                try:
                    module = importlib.import_module(f"workflows.{alias.name}")
                except ModuleNotFoundError:
                    continue  # a name of the package itself, e.g. BY_NAME
                if hasattr(module, "MACHINE"):
                    aliases[alias.asname or alias.name] = module
    return aliases


def _named(node: ast.AST, aliases: dict, attribute: str):
    """The workflows module of `<alias>.<attribute>`, or None."""
    if (
        isinstance(node, ast.Attribute)
        and node.attr == attribute
        and isinstance(node.value, ast.Name)
    ):
        return aliases.get(node.value.id)
    return None


def _state_names(node: ast.AST, aliases: dict) -> StateNames | None:
    """The StateNames of `<alias>.S` (or of a module's second machine, `payout_wf.L`,
    `inquiry_wf.T`), or None."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        module = aliases.get(node.value.id)
        names = getattr(module, node.attr, None) if module is not None else None
        return names if isinstance(names, StateNames) else None
    return None


def test_code_names_only_states_and_events_its_machines_have():
    """`round_wf.S.<state>` (and `payout_wf.L.<state>`, `inquiry_wf.T.<state>`) and
    `sources(round_wf.MACHINE, "<event>")` are checked here for every module, also for code no
    test happens to run."""
    problems = []
    for path in sorted(p for d in ("kariya", "views", "tasks") for p in (ROOT / d).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = _workflow_aliases(tree)
        if not aliases:
            continue
        where = path.relative_to(ROOT)
        for node in ast.walk(tree):
            names = _state_names(node.value, aliases) if isinstance(node, ast.Attribute) else None
            if names is not None and node.attr not in names:
                problems.append(f"{where}:{node.lineno}: no state {node.attr!r}")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "sources"
                and node.args
                and (module := _named(node.args[0], aliases, "MACHINE"))
            ):
                for arg in node.args[1:]:
                    if isinstance(arg, ast.Constant) and arg.value not in module.MACHINE.events:
                        problems.append(f"{where}:{node.lineno}: no event {arg.value!r}")
    assert problems == []
