"""Benchmark: what the one-per-round rule's returning-account check and the claim's row lock cost
the acquisition (kariya.coupons.acquisition; the withdrawal, kariya.residents.withdrawal).

    .venv/bin/python -m tests.benchmarks.claim [--persons 1000] [--runs 3] [--setup]

Against PostgreSQL (database `kariya_bench_claim` on 127.0.0.1, made and migrated with --setup):
a campaign whose round 1 is open, `--persons` residents with profiles and consents, and as many
again who are the new records of LINE accounts that withdrew (each linked to a withdrawn record
that did not acquire this round, so their claim succeeds after the lookups).

1. The claim statement alone, on the server (EXPLAIN ANALYZE: planning and execution time,
   medians), person by person in turn: main's claim before this change (rebuilt here), this
   claim as the rush runs it, and the returning account's claim; each rolled back.
2. In process, end to end: `acquisition.acquire` + COMMIT for every plain resident, then for
   every returning one (milliseconds per acquisition; each run empties round 1 first).
3. The plans of the rush claim and of the returning claim.

On a machine shared with other work, 1 is the figure to read: 2 moves by tens of percent from
run to run with the load.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import time
import types
import uuid

import sqlalchemy as sa
from sqlalchemy import literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import make_url

from kariya.campaign import definition
from kariya.clock import FixedClock
from kariya.coupons import acquisition, ticker
from kariya.db import get_session_factory
from kariya.models import Acquisition, Person, Round, TermsConsent
from kariya.orm import UTCDateTime
from kariya.residents import refs
from tests.helpers import campaign_toml

URL = "postgresql+psycopg://postgres@127.0.0.1:5432/kariya_bench_claim"
START = dt.datetime(2024, 1, 15, tzinfo=dt.timezone(dt.timedelta(hours=9)))
NOW = START + dt.timedelta(hours=10)
FIRST_ROUND = types.SimpleNamespace(id=1)  # the bench database's round 1


def setup(engine: sa.Engine, persons: int) -> None:
    from kariya.migrations import upgrade

    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    upgrade(engine)
    db = get_session_factory(engine)()
    spec = definition.parse(campaign_toml(total=persons * 2 * 2000 * 6, rounds=6, start=START))
    definition.load(db, FixedClock(START - dt.timedelta(days=1)), spec, "bench")
    db.commit()
    ticker.run_due(db, FixedClock(START + dt.timedelta(seconds=1)), actor="bench")
    db.commit()
    db.close()

    def row(n: int, **extra):
        ref = f"{n:011d}"
        return {
            "line_user_id": "U" + uuid.uuid4().hex,
            "ref": ref + refs.check_digit(ref),
            "display_name": "",
            "age_band": "70s",
            "area": "kariya",
            "profile_at": START,
            "created_at": START,
            **extra,
        }

    with engine.begin() as conn:
        conn.execute(sa.insert(Person), [row(n) for n in range(persons)])
        withdrawn = [
            row(persons + n, line_hash=uuid.uuid4().hex * 2, withdrawn_at=START)
            for n in range(persons)
        ]
        conn.execute(sa.insert(Person), withdrawn)
        earlier = conn.execute(
            sa.select(Person.id).where(Person.withdrawn_at.is_not(None)).order_by(Person.id)
        ).scalars()
        conn.execute(
            sa.insert(Person),
            [row(2 * persons + n, returned_from_id=e) for n, e in enumerate(earlier)],
        )
        ids = conn.scalars(sa.select(Person.id)).all()
        conn.execute(
            sa.insert(TermsConsent),
            [{"person_id": i, "version": 1, "agreed_at": START} for i in ids],
        )
        conn.execute(sa.text("ANALYZE"))


def reset(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for table in ("coupon", "acquisition", "ledger_posting", "ledger_entry"):
            conn.execute(
                sa.text(
                    f"DELETE FROM {table}"
                    + (" WHERE kind = 'acquire'" if table == "ledger_entry" else "")
                    + (
                        " WHERE entry_id IN (SELECT id FROM ledger_entry WHERE kind = 'acquire')"
                        if table == "ledger_posting"
                        else ""
                    )
                )
            )
        conn.execute(sa.update(Round).where(Round.number == 1).values(issued=0, state="open"))


def kinds(engine: sa.Engine, persons: int) -> dict[str, list[int]]:
    """The first `persons` plain residents and returning ones."""
    with engine.connect() as conn:
        plain = conn.scalars(
            sa.select(Person.id)
            .where(Person.withdrawn_at.is_(None), Person.returned_from_id.is_(None))
            .order_by(Person.id)
            .limit(persons)
        ).all()
        returning = conn.scalars(
            sa.select(Person.id)
            .where(Person.returned_from_id.is_not(None))
            .order_by(Person.id)
            .limit(persons)
        ).all()
    return {"plain": plain, "returning": returning}


def run(engine: sa.Engine, ids: list[int]) -> float:
    db = get_session_factory(engine)()
    clock = FixedClock(NOW)
    started = time.perf_counter()
    for person_id in ids:
        acquisition.acquire(db, clock, person_id)
        db.commit()
    elapsed = time.perf_counter() - started
    db.close()
    return elapsed * 1000 / max(len(ids), 1)


def _main_claim(person_id: int):
    """The claim as main built it before the withdrawal (no withdrawn or returning check, no
    row lock), for the comparison."""
    t = Acquisition.__table__
    chosen = select(literal(1), Person.id, literal(2000), literal(NOW, UTCDateTime)).where(
        Person.id == person_id,
        Person.profile_at.is_not(None),
        Person.blocked_at.is_(None),
        acquisition.AGREED,
    )
    return (
        pg_insert(t)
        .from_select(["round_id", "person_id", "amount", "created_at"], chosen)
        .on_conflict_do_nothing(index_elements=["round_id", "person_id"])
        .returning(t.c.id)
    )


def _branch_claim(engine: sa.Engine, person_id: int, returning: bool):
    """The statement `acquisition._claim` executes, captured instead of run."""
    captured = []

    class Capture:
        def get_bind(self):
            return engine

        def scalar(self, statement):
            captured.append(statement)

    acquisition._claim(Capture(), FIRST_ROUND, person_id, 2000, NOW, returning=returning)
    return captured[0]


def _explain(conn, statement, *, analyze: bool = True):
    text = str(statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    options = "ANALYZE, FORMAT JSON" if analyze else "ANALYZE, COSTS OFF, TIMING OFF"
    rows = conn.exec_driver_sql(f"EXPLAIN ({options}) {text}").all()
    conn.rollback()
    return rows


def server_times(engine: sa.Engine, groups: dict[str, list[int]]) -> dict[str, tuple]:
    """Median planning and execution time (ms) of each claim, the kinds taken in turn."""
    kinds_of = {
        "main's claim (before)": lambda p, r: _main_claim(p),
        "rush claim (now)": lambda p, r: _branch_claim(engine, p, False),
        "returning claim (now)": lambda p, r: _branch_claim(engine, r, True),
    }
    found: dict[str, list[tuple[float, float]]] = {k: [] for k in kinds_of}
    with engine.connect() as conn:
        for plain, back in zip(groups["plain"], groups["returning"], strict=False):
            for name, build in kinds_of.items():
                (plan,) = _explain(conn, build(plain, back))[0]
                plan = (plan if isinstance(plan, list) else json.loads(plan))[0]
                found[name].append((plan["Planning Time"], plan["Execution Time"]))
    return {
        name: (statistics.median(p for p, _ in v), statistics.median(e for _, e in v), len(v))
        for name, v in found.items()
    }


def plans(engine: sa.Engine, groups: dict[str, list[int]]) -> dict[str, str]:
    with engine.connect() as conn:
        return {
            "rush claim": "\n".join(
                r[0]
                for r in _explain(
                    conn, _branch_claim(engine, groups["plain"][0], False), analyze=False
                )
            ),
            "returning claim": "\n".join(
                r[0]
                for r in _explain(
                    conn, _branch_claim(engine, groups["returning"][0], True), analyze=False
                )
            ),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--setup", action="store_true")
    args = parser.parse_args()
    target = make_url(URL)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(
            sa.text("SELECT 1 FROM pg_database WHERE datname = 'kariya_bench_claim'")
        ):
            conn.execute(sa.text('CREATE DATABASE "kariya_bench_claim"'))
    admin.dispose()
    engine = sa.create_engine(URL, pool_size=2)
    if args.setup:
        setup(engine, args.persons)
    groups = kinds(engine, args.persons)
    reset(engine)
    print("1. the claim statement on the server (medians):")
    for name, (planning, execution, n) in server_times(engine, groups).items():
        print(f"  {name}: planning {planning:.3f} ms, execution {execution:.3f} ms ({n} persons)")
    times: dict[str, list[float]] = {k: [] for k in groups}
    for _ in range(args.runs):
        for kind, ids in groups.items():
            reset(engine)
            times[kind].append(run(engine, ids))
    print("2. in process, acquire + COMMIT:")
    for kind, values in times.items():
        print(
            f"  {kind}: {statistics.median(values):.2f} ms per acquisition "
            f"(runs: {', '.join(f'{v:.2f}' for v in values)}; {len(groups[kind])} persons)"
        )
    reset(engine)
    for name, plan in plans(engine, groups).items():
        print(f"\n3. the plan of the {name}:\n{plan}")
    engine.dispose()


if __name__ == "__main__":
    main()
