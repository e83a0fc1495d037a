"""The database plans every foreign-key check for the table as it is (migration c4f1e2a9d7b3,
`plan_cache_mode = force_custom_plan`; issue 16, I-9).

The weekly rush starts round 1 with an empty `acquisition`. A connection's first foreign-key
checks found a table of one page, and the server kept their plan, a sequential scan, for the
connection's life: by the end of the rush each coupon's check read 10,000 acquisitions. The
control below shows that hazard on a connection set back to the server's default; the app's
connections, with the database's setting, look the rows up by the index however the table grew.
"""

import sqlalchemy as sa

SCHEMA = [
    "CREATE TEMP TABLE parent (id integer PRIMARY KEY)",
    "CREATE TEMP TABLE child (id serial PRIMARY KEY, parent_id integer REFERENCES parent (id))",
    "INSERT INTO parent VALUES (1)",
    "ANALYZE parent",
]


def seq_scans_of_late_checks(conn) -> int:
    """Check a few children while the parent table is one row, let it grow to 20,000 rows,
    then check 50 more: how many sequential scans of the parent those 50 checks made."""
    for statement in SCHEMA:
        conn.execute(sa.text(statement))
    for _ in range(8):  # past the server's five custom plans before it settles on one
        conn.execute(sa.text("INSERT INTO child (parent_id) VALUES (1)"))
    conn.execute(sa.text("INSERT INTO parent SELECT generate_series(2, 20000)"))
    before = scans(conn)
    conn.execute(sa.text("INSERT INTO child (parent_id) SELECT generate_series(19951, 20000)"))
    return scans(conn) - before


def scans(conn) -> int:
    """Sequential scans of the parent in this transaction (the whole function runs in one)."""
    return conn.scalar(
        sa.text(
            "SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relid = 'pg_temp.parent'::regclass"
        )
    )


def test_a_new_connection_has_the_databases_setting(engine):
    fresh = sa.create_engine(engine.url, poolclass=sa.pool.NullPool)
    try:
        with fresh.connect() as conn:
            assert conn.scalar(sa.text("SHOW plan_cache_mode")) == "force_custom_plan"
            assert seq_scans_of_late_checks(conn) == 0
    finally:
        fresh.dispose()


def test_control_the_servers_default_keeps_the_first_plan(engine):
    fresh = sa.create_engine(engine.url, poolclass=sa.pool.NullPool)
    try:
        with fresh.connect() as conn:
            conn.execute(sa.text("SET plan_cache_mode = auto"))
            assert seq_scans_of_late_checks(conn) == 50
    finally:
        fresh.dispose()
