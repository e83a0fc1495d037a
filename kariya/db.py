"""Engine, sessions and the per-request session joined to the request's transaction."""

from __future__ import annotations

import contextlib

import transaction
import zope.sqlalchemy
from pyramid.exceptions import ConfigurationError
from pyramid.settings import asbool
from pyramid_retry import mark_error_retryable
from sqlalchemy import engine_from_config, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def get_engine(settings: dict, prefix: str = "sqlalchemy."):
    url = settings[prefix + "url"]
    options = {}
    threshold_key = prefix + "prepare_threshold"  # ours, not create_engine()'s: taken out
    if threshold_key in settings:
        options["connect_args"] = {"prepare_threshold": _prepare_threshold(settings, prefix)}
        settings = {k: v for k, v in settings.items() if k != threshold_key}
    if url.startswith("sqlite"):
        options["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        # Safe default; an ini may turn it off (it was 11% of request time in the rush profile).
        # engine_from_config passes the ini's text through, and "false" is a true string.
        options["pool_pre_ping"] = asbool(settings.get(prefix + "pool_pre_ping", True))
    engine = engine_from_config(settings, prefix, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "handle_error", _retry_when_connection_lost)
    return engine


def _prepare_threshold(settings: dict, prefix: str) -> int | None:
    """`sqlalchemy.prepare_threshold`: after how many executions psycopg 3 prepares a statement
    on the server (psycopg's default, 5, when the key is absent), or `none` for never.

    Set it to `none` when the app reaches PostgreSQL through PgBouncer in transaction mode
    (the scale-out topology, README): a prepared statement lives in one server connection, and
    PgBouncer before 1.21 (Debian 12 ships 1.18) hands each transaction whichever server
    connection is free, so a later EXECUTE finds it missing ("prepared statement "_pg3_0" does
    not exist") or a PREPARE finds it there already. Only for postgresql+psycopg URLs."""
    text = str(settings[prefix + "prepare_threshold"]).strip().lower()
    if make_url(settings[prefix + "url"]).get_driver_name() != "psycopg":
        raise ConfigurationError(f"{prefix}prepare_threshold is for postgresql+psycopg URLs")
    if text == "none":
        return None
    try:
        threshold = int(text)
    except ValueError:
        threshold = -1
    if threshold < 0:
        raise ConfigurationError(f"{prefix}prepare_threshold must be none or a count, not {text!r}")
    return threshold


def _retry_when_connection_lost(context) -> None:
    """A statement that found its connection dead (PostgreSQL restarted, a proxy dropped an
    idle connection) belonged to a transaction that can no longer commit: nothing of it was
    written. Such an error is marked retryable, so a web request runs again (pyramid_retry,
    `retry.attempts`) on a fresh connection: the pool discards every connection older than the
    failure. This is the cheap reconnect for when the pool's pre-ping is off; with it on, it
    still covers a connection that dies between the ping and the statement.

    A failed COMMIT (no statement) is not retried: whether it took effect is unknown, so the
    request answers 503 and the client retries with its Idempotency-Key. Tasks and the CLI
    ignore the mark (the beat runs their catch-up again)."""
    lost = context.is_disconnect and not context.is_pre_ping
    if lost and context.statement is not None and context.sqlalchemy_exception is not None:
        mark_error_retryable(context.sqlalchemy_exception)


def _sqlite_pragmas(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def get_session_factory(engine) -> sessionmaker:
    return sessionmaker(bind=engine, expire_on_commit=False)


def get_tm_session(session_factory, transaction_manager, request=None) -> Session:
    """A session whose commit and rollback follow `transaction_manager`.

    `initial_state='changed'` so that Core statements (bulk UPDATE ... RETURNING, which the
    hot paths use) are committed too: see PATTERNS.md, zope.sqlalchemy pitfall.
    """
    dbsession = session_factory(info={"request": request})
    zope.sqlalchemy.register(
        dbsession, transaction_manager=transaction_manager, initial_state="changed"
    )
    return dbsession


@contextlib.contextmanager
def unit_of_work(registry):
    """A session in its own transaction, for CLI commands and Celery tasks.

    Commits when the block ends normally, aborts on an exception.
    """
    tm = transaction.TransactionManager(explicit=True)
    with tm:
        dbsession = get_tm_session(registry["db.session_factory"], tm)
        yield dbsession
    dbsession.close()


def includeme(config):
    settings = config.get_settings()
    config.include("pyramid_tm")
    config.include("pyramid_retry")
    engine = get_engine(settings)
    session_factory = get_session_factory(engine)
    config.registry["db.engine"] = engine
    config.registry["db.session_factory"] = session_factory

    def dbsession(request):
        # Tests may hand in their own session through the environ.
        session = request.environ.get("app.dbsession")
        if session is None:
            session = get_tm_session(session_factory, request.tm, request=request)
            request.add_finished_callback(lambda r: session.close())
        return session

    config.add_request_method(dbsession, "db", reify=True)
