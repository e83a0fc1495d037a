"""The backup and restore drill (issue 14, I-10; kariya/audit/drill.py, `kariya drill`): a
seeded database (a campaign with acquisitions, uses, a settled round and an approved payout
batch) is dumped with pg_dump, restored with pg_restore into a new database, and found
identical: every table's rows, the sequences, the ledger check's report and the balances. A
copy that differs is told apart.

On the private PostgreSQL cluster (tests/integration/conftest.py): a DROP DATABASE forces a
checkpoint, which on the machine's shared server waits for everybody's dirty buffers (141 s
measured once under other suites' load); here it takes a moment. Bounded: seconds."""

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from kariya.audit import drill
from kariya.errors import Conflict
from tests.benchmarks.drill import seed
from tests.helpers import run_cli
from tests.integration.private_services import write_ini

pytestmark = pytest.mark.integration


def _exists(url: str, name: str) -> bool:
    admin = sa.create_engine(make_url(url).set(database="postgres"))
    try:
        with admin.connect() as conn:
            found = "SELECT count(*) FROM pg_database WHERE datname = :n"
            return bool(conn.scalar(sa.text(found), {"n": name}))
    finally:
        admin.dispose()


def test_a_restored_dump_is_identical_and_a_changed_copy_is_not(private_db, tmp_path):
    url, db = private_db
    made = seed(db.get_bind(), residents=24, stores=3)
    assert made == {"acquisitions": 36, "uses": 12, "batch_lines": 3, "persons": 24, "stores": 3}
    restored = f"{make_url(url).database}_restored"
    # A database's own settings (the migrations' plan_cache_mode; a copy from a template, as
    # this one is, has none) are not in a dump: the restore sets them and the drill compares.
    name = make_url(url).database
    db.execute(sa.text(f'ALTER DATABASE "{name}" SET plan_cache_mode = force_custom_plan'))
    db.execute(sa.text(f'ALTER DATABASE "{name}" SET search_path TO "$user", public'))
    db.commit()

    report = drill.run(url, into=restored, dump=tmp_path / "k.dump", keep=True)

    assert report.ok, report.text()
    tables = report.figures.tables
    assert tables["acquisition"][0] == 36 and tables["coupon"][0] == 4 * 36
    assert tables["redemption"][0] == 12 and tables["payout_batch"][0] == 1
    assert report.figures.sequences["acquisition_id_seq"] == 36
    assert report.figures.balances["payable"] > 0  # the approved batch
    assert len(report.figures.ledger) == 1 and "OK:" in report.figures.ledger[0]
    assert report.dump_bytes == (tmp_path / "k.dump").stat().st_size > 0
    assert set(report.seconds) == set(drill.STEPS)
    assert report.figures.settings == [
        "plan_cache_mode=force_custom_plan",
        'search_path="$user", public',
    ]
    assert "settings      plan_cache_mode=force_custom_plan, search_path=" in report.text()
    assert "IDENTICAL" in report.text() and f"{report.dump_bytes:,} bytes" in report.text()
    rows = sum(n for n, _ in tables.values())
    steps = ", ".join(f"{step} {sec:.2f} s" for step, sec in report.seconds.items())
    print(f"\n[drill] {rows:,} rows, dump {report.dump_bytes:,} bytes: {steps}")

    # The comparison sees a copy that is not the same: one name changed, a sequence moved.
    copy = sa.create_engine(make_url(url).set(database=restored))
    try:
        with copy.begin() as conn:
            conn.execute(sa.text("UPDATE person SET display_name = 'x' WHERE id = 1"))
            conn.execute(sa.text("SELECT setval('coupon_id_seq', 1000)"))
        with copy.connect() as conn:
            changed = drill.figures(conn)
    finally:
        copy.dispose()
    found = report.figures.differences(changed)
    assert len(found) == 2 and found[0].startswith("table person: 24 rows"), found
    assert found[1] == "sequence coupon_id_seq: 144 against 1000"


def test_kariya_drill_on_the_command_line(private_db, tmp_path):
    """`kariya drill`, as an operator runs it: exit 0 and the report; the copy is dropped, and
    a database of the copy's name that exists already is never touched."""
    url, db = private_db
    seed(db.get_bind(), residents=4, stores=1)
    ini = str(write_ini(tmp_path / "cli.ini", url, "", "memory://"))
    done = run_cli(ini, "drill")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "IDENTICAL" in done.stdout and "Ledger check:" in done.stdout
    name = f"{make_url(url).database}_drill"
    assert not _exists(url, name)
    db.get_bind().dispose()
    admin = sa.create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    with pytest.raises(Conflict) as refused:
        drill.run(url)
    assert refused.value.code == "DRILL_TARGET_EXISTS" and "すでにあります" in refused.value.message
    assert _exists(url, name)
