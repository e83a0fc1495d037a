"""Every schema change is a migration: the models and the migrations agree, on PostgreSQL
(production, tests) and on SQLite (the embedded default)."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from kariya.migrations import upgrade
from kariya.models import Base


def _diff(connection):
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, Base.metadata)


def test_postgresql_schema_from_migrations_matches_the_models(engine):
    with engine.connect() as connection:
        assert _diff(connection) == []


def test_sqlite_schema_from_migrations_matches_the_models(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'k.sqlite'}")
    upgrade(engine)
    with engine.connect() as connection:
        assert _diff(connection) == []
        tables = set(sa.inspect(connection).get_table_names())
    assert {"round", "coupon", "acquisition", "ledger_posting", "staff_user"} <= tables
