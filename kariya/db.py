"""Engine, sessions and the per-request session joined to the request's transaction."""

from __future__ import annotations

import contextlib

import transaction
import zope.sqlalchemy
from sqlalchemy import engine_from_config, event
from sqlalchemy.orm import Session, sessionmaker


def get_engine(settings: dict, prefix: str = "sqlalchemy."):
    url = settings[prefix + "url"]
    options = {}
    if url.startswith("sqlite"):
        options["connect_args"] = {"check_same_thread": False, "timeout": 30}
    elif prefix + "pool_pre_ping" not in settings:
        # Safe default; an ini may turn it off (it was 11% of request time in the rush profile).
        options["pool_pre_ping"] = True
    engine = engine_from_config(settings, prefix, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


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
