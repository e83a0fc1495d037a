"""Test fixtures: a real PostgreSQL database (migrated with Alembic once per run, so every run
tests the migrations) and a real Redis. A missing service stops the run with a clear message;
nothing is skipped silently.

Tests commit for real (pyramid_tm commits or aborts exactly as in production, so "nothing was
written" is tested truthfully); every table is emptied before each test.
"""

from __future__ import annotations

import datetime as dt
import os

import pytest
import redis
import sqlalchemy as sa
import webtest
from sqlalchemy.engine import make_url

from kariya import make_config
from kariya.clock import set_clock
from kariya.db import get_session_factory
from kariya.migrations import upgrade
from tests.helpers import WITHDRAWAL_KEY, seed_documents, truncate_all

DATABASE_URL = os.environ.get(
    "KARIYA_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/kariya_test"
)
REDIS_URL = os.environ.get("KARIYA_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
BROKER_URL = os.environ.get("KARIYA_TEST_BROKER_URL", "redis://127.0.0.1:6379/14")

BASE_SETTINGS = {
    "kariya.environment": "test",
    "sqlalchemy.url": DATABASE_URL,
    "sqlalchemy.pool_size": "10",
    "sqlalchemy.max_overflow": "20",
    "kariya.redis_url": REDIS_URL,
    # The URL the tests address the app by (absolute URLs come from it, never from Host).
    "kariya.public_url": "http://localhost",
    "kariya.session_secret": "test-session-secret-not-for-production",
    "kariya.privacy.withdrawal_key": WITHDRAWAL_KEY,
    "kariya.clock": "settable",
    "kariya.line.simulator": "true",
    # The second factor only where a test switches it on (tests/functional/test_staff_totp.py).
    "kariya.staff.require_totp": "false",
    "celery.broker_url": BROKER_URL,
    "celery.always_eager": "true",
    "kariya.zengin.remitter_code": "1234567890",
    "kariya.zengin.remitter_name": "ｶﾘﾔｼﾃﾞﾝｼﾜﾘﾋﾞｷｹﾝｼﾞﾑｷﾖｸ",
    "kariya.zengin.bank_code": "0001",
    "kariya.zengin.branch_code": "001",
    "kariya.zengin.account_type": "1",
    "kariya.zengin.account_number": "1234567",
}


def _ensure_database(url: str) -> None:
    target = make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}
            )
            if not exists:
                conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    except sa.exc.OperationalError as exc:
        pytest.exit(
            f"PostgreSQL is not reachable at {target.render_as_string(hide_password=True)}: {exc.orig}\n"
            "Start it (see README, 'Tests') or set KARIYA_TEST_DATABASE_URL.",
            returncode=3,
        )
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def engine():
    _ensure_database(DATABASE_URL)
    engine = sa.create_engine(DATABASE_URL, pool_size=10, max_overflow=20)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def redis_client():
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.exit(
            f"Redis is not reachable at {REDIS_URL}: {exc}. Start it (see README, 'Tests').",
            returncode=3,
        )
    return client


@pytest.fixture(autouse=True)
def clean_db(engine, redis_client):
    """Every test starts from empty tables (the schema stays), but for version 1 of each
    document, which `kariya initdb` publishes, and with no rate-limit window open (ids and the
    client address repeat from test to test)."""
    truncate_all(engine)
    seed_documents(engine)
    for key in redis_client.scan_iter(match="kariya:rate:*", count=1000):
        redis_client.delete(key)
    yield


@pytest.fixture(scope="session")
def settings():
    return dict(BASE_SETTINGS)


@pytest.fixture(scope="session")
def app_config(engine, settings):
    return make_config(dict(settings))


@pytest.fixture(scope="session")
def registry(app_config):
    return app_config.registry


@pytest.fixture(scope="session")
def app(app_config):
    return app_config.make_wsgi_app()


@pytest.fixture
def testapp(app):
    return webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.0.0.1"})


@pytest.fixture
def session_factory(engine):
    return get_session_factory(engine)


@pytest.fixture
def db(session_factory):
    """A plain session for arranging and inspecting data; commit explicitly."""
    session = session_factory()
    yield session
    session.rollback()
    session.close()


@pytest.fixture(scope="session")
def fraud_campaign():
    """The normal full-size campaign of tests/fraudgen.py (600 stores, 20,000 residents, three
    weeks of uses) in a database of its own, built once per run: (engine, Generated)."""
    from tests import fraudgen

    target = make_url(DATABASE_URL)
    engine, generated = fraudgen.database(target.set(database=f"{target.database}_fraudgen"))
    yield engine, generated
    engine.dispose()


@pytest.fixture
def fraud_db(fraud_campaign):
    """A session on the generated campaign whose every change (a planted pattern, the cases a
    scan opens) is rolled back after the test."""
    from sqlalchemy.orm import Session

    engine, _generated = fraud_campaign
    with engine.connect() as connection:
        transaction = connection.begin()
        session = Session(bind=connection, join_transaction_mode="create_savepoint")
        yield session
        session.close()
        transaction.rollback()


@pytest.fixture
def set_now(db):
    """Set the shared settable clock (frozen) that web, CLI and Celery read."""

    def _set(value: str | dt.datetime):
        now = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
        set_clock(db, now, frozen=True)
        db.commit()
        return now

    return _set
