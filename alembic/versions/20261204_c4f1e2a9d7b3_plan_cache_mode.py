"""plan_cache_mode = force_custom_plan for the database (issue 16)

Revision ID: c4f1e2a9d7b3
Revises: bac4bbb2fe8b
Create Date: 2026-12-04 09:00:00.000000

A foreign-key check is a plan the server keeps for the life of a connection. The first checks of
the weekly rush's connections run while `acquisition` and `ledger_entry` are nearly empty, so
the plan kept is a sequential scan, and it stays one while the rush fills the tables (nothing
re-plans it unless an ANALYZE happens to run): every coupon's check on its acquisition read the
whole table, 0.3 ms a coupon at 10,000 acquisitions and growing (auto_explain, `make bench`).
With `force_custom_plan` each check is planned for the table as it is: an index look-up. The
app's own statements are never prepared on the server (kariya/db.py, prepare_threshold none),
so this changes only the plans the server keeps by itself (foreign keys, PL/pgSQL).

A setting of the database, not of the session: it holds for every connection, PgBouncer's in
transaction mode included (a SET there would stay on one server connection).
"""

from alembic import op

revision = 'c4f1e2a9d7b3'
down_revision = 'bac4bbb2fe8b'
branch_labels = None
depends_on = None

SET = """
DO $$ BEGIN
    EXECUTE format('ALTER DATABASE %I {}', current_database());
END $$
"""


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(SET.format("SET plan_cache_mode = force_custom_plan"))


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(SET.format("RESET plan_cache_mode"))
