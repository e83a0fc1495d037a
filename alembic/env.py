"""Alembic environment: the URL comes from the app's settings (KARIYA_INI / KARIYA_DATABASE_URL)
or from `config.attributes["connection"]` when `kariya initdb` or the tests hand one in."""

import os

from sqlalchemy import engine_from_config, pool

from alembic import context
from kariya.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    if os.environ.get("KARIYA_DATABASE_URL"):
        return os.environ["KARIYA_DATABASE_URL"]
    from pyramid.paster import get_appsettings

    return get_appsettings(os.environ.get("KARIYA_INI", "development.ini"))["sqlalchemy.url"]


def _configure(connection):
    is_pg = connection.dialect.name == "postgresql"
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=not is_pg,  # SQLite needs batch mode for ALTER
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        if is_pg:
            # Migrations must not hang behind the live app's locks.
            context.execute("SET LOCAL lock_timeout = '10s'")
            context.execute("SET LOCAL statement_timeout = '10min'")
        context.run_migrations()


def run_online():
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    engine = engine_from_config(
        {"sqlalchemy.url": _url()}, prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with engine.connect() as connection:
        _configure(connection)


def run_offline():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
