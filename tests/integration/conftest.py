"""A private PostgreSQL cluster for the tests that stop, crash or fill a server (the fault
tests, the restore drill): started once per run by the first test that asks for it, on a free
port in a temporary directory (tests/integration/private_services.py), with a migrated template
database that each test copies. The machine's shared PostgreSQL is never stopped, and nobody
else's dirty buffers slow down its checkpoints (a DROP DATABASE forces one)."""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from kariya.migrations import upgrade
from tests.helpers import seed_documents
from tests.integration import private_services

TEMPLATE = "private_template"
_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def private_postgres():
    missing = private_services.missing()
    if missing is not None:
        pytest.skip(f"needs a private PostgreSQL server: {missing}")
    server = private_services.PrivatePostgres()
    try:
        server.start()
        server.execute(f"CREATE DATABASE {TEMPLATE}")
        engine = sa.create_engine(server.url(TEMPLATE))
        upgrade(engine)
        seed_documents(engine)  # as `kariya initdb` leaves a database
        engine.dispose()
        yield server
    finally:
        server.destroy()


@pytest.fixture
def private_db(private_postgres):
    """A fresh database in the private cluster (a copy of the template): (url, session)."""
    name = f"private_{next(_numbers)}"
    private_postgres.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    engine = sa.create_engine(private_postgres.url(name), pool_pre_ping=True)
    session = Session(engine, expire_on_commit=False)
    yield private_postgres.url(name), session
    session.close()
    engine.dispose()
