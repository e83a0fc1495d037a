"""`sqlalchemy.prepare_threshold` (kariya/db.py): behind PgBouncer in transaction mode (the
scale-out topology) an ini sets it to `none`, and psycopg 3 then never prepares a statement on
the server, whose prepared statements PgBouncer 1.18 cannot follow from one server connection to
the next. Without the key, psycopg's own default (5) stays.
"""

import pytest
import sqlalchemy as sa
from pyramid.exceptions import ConfigurationError

from kariya.db import get_engine
from tests.conftest import BASE_SETTINGS

STATEMENT = sa.text("SELECT count(*) FROM person WHERE id > :n")
PREPARED = sa.text("SELECT count(*) FROM pg_prepared_statements")


def engine_with(**extra: str) -> sa.Engine:
    settings = {**BASE_SETTINGS, "sqlalchemy.pool_size": "1", **extra}
    return get_engine({k: v for k, v in settings.items() if v is not None})


def prepared_after_repeats(engine: sa.Engine, times: int) -> tuple[object, int]:
    """The connection's prepare_threshold, and how many statements its server session holds
    prepared after running one statement `times` times."""
    with engine.connect() as conn:
        for n in range(times):
            conn.execute(STATEMENT, {"n": n})
        return conn.connection.driver_connection.prepare_threshold, conn.scalar(PREPARED)


@pytest.mark.parametrize(
    ("value", "threshold", "prepared"),
    [(None, 5, 1), ("none", None, 0), (" None ", None, 0), ("20", 20, 0)],
)
def test_the_setting_reaches_the_connection(engine, value, threshold, prepared):
    app_engine = engine_with(**{"sqlalchemy.prepare_threshold": value})
    try:
        assert prepared_after_repeats(app_engine, 10) == (threshold, prepared)
    finally:
        app_engine.dispose()


def test_the_other_engine_options_still_apply(engine):
    app_engine = engine_with(
        **{"sqlalchemy.prepare_threshold": "none", "sqlalchemy.pool_pre_ping": "false"}
    )
    try:
        assert app_engine.pool._pre_ping is False
        assert app_engine.pool.size() == 1
    finally:
        app_engine.dispose()


@pytest.mark.parametrize("value", ["never", "-1", ""])
def test_a_wrong_value_stops_the_start(value):
    with pytest.raises(ConfigurationError, match="prepare_threshold must be none or a count"):
        engine_with(**{"sqlalchemy.prepare_threshold": value})


def test_only_for_psycopg():
    with pytest.raises(ConfigurationError, match="postgresql\\+psycopg"):
        get_engine({"sqlalchemy.url": "sqlite://", "sqlalchemy.prepare_threshold": "none"})
